//! Text-backed enums stored in portable TEXT columns, readable and writable on both backends.

/// Declares an enum stored as TEXT, with its database, serde and string forms.
macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
                 diesel::AsExpression, diesel::FromSqlRow, utoipa::ToSchema)]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(concat!("unknown ", stringify!($name), " `{}`"), other)),
                }
            }
        }

        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut diesel::serialize::Output<'b, '_, DB>) -> diesel::serialize::Result {
                self.as_str().to_sql(out)
            }
        }

        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                let text = String::from_sql(bytes)?;
                text.parse().map_err(Into::into)
            }
        }
    };
}

text_enum! {
    /// What an account may do instance-wide.
    pub enum AccountRole {
        Admin => "admin",
        Moderator => "moderator",
        Member => "member",
    }
}

text_enum! {
    /// Whether an account can sign in and act.
    pub enum AccountStatus {
        Active => "active",
        /// Waiting for an admin to approve the application.
        Pending => "pending",
        Suspended => "suspended",
        Rejected => "rejected",
    }
}

text_enum! {
    /// Which table a local actor name belongs to (persons and communities share names).
    pub enum ActorKind {
        Person => "person",
        Community => "community",
    }
}

text_enum! {
    /// How a credential is presented: an API bearer token or a web session cookie.
    pub enum TokenKind {
        Api => "api",
        Session => "session",
    }
}

text_enum! {
    /// Whether a community is for questions and answers or open discussion.
    pub enum CommunityKind {
        Qa => "qa",
        Discussion => "discussion",
    }
}

text_enum! {
    /// Who can see a community and where it federates.
    pub enum Visibility {
        /// Everyone; federates with every instance not blocked.
        Public => "public",
        /// Everyone here; federates only with allowlisted partner instances.
        Partners => "partners",
        /// Signed-in members of this instance only; never federated.
        Internal => "internal",
    }
}

text_enum! {
    /// A follow as it moves through Follow -> Accept.
    pub enum FollowState {
        Pending => "pending",
        Accepted => "accepted",
    }
}

text_enum! {
    /// A question (can be solved by accepted answers) or a discussion.
    pub enum ThreadKind {
        Question => "question",
        Discussion => "discussion",
    }
}

text_enum! {
    /// What a mention in a text points at.
    pub enum MentionKind {
        Person => "person",
        Community => "community",
    }
}

text_enum! {
    /// Where one delivery of an outgoing activity to one inbox stands.
    pub enum DeliveryState {
        /// Not yet confirmed; sent when `next_attempt_at` has passed.
        Pending => "pending",
        /// Waits for an earlier delivery about the same object to the same inbox to finish
        /// (then it becomes pending), so an Update never overtakes its Create.
        Held => "held",
        /// The receiver answered 2xx.
        Delivered => "delivered",
        /// Refused for good (a final 4xx, a refused URL) or retried until the deadline.
        Failed => "failed",
    }
}

text_enum! {
    /// Where a report stands in the moderators' queue.
    pub enum ReportStatus {
        Open => "open",
        /// A moderator acted on it.
        Resolved => "resolved",
        /// A moderator found nothing to act on.
        Dismissed => "dismissed",
    }
}

text_enum! {
    /// What a moderator or admin did, as the mod log records it.
    pub enum ModAction {
        RemoveThread => "remove_thread",
        RestoreThread => "restore_thread",
        RemoveAnswer => "remove_answer",
        RestoreAnswer => "restore_answer",
        LockThread => "lock_thread",
        UnlockThread => "unlock_thread",
        Ban => "ban",
        Unban => "unban",
        ResolveReport => "resolve_report",
        DismissReport => "dismiss_report",
        AddModerator => "add_moderator",
        RemoveModerator => "remove_moderator",
        /// An admin deleted a thread for good (with its answers).
        PurgeThread => "purge_thread",
        /// An admin deleted an answer for good (with its replies).
        PurgeAnswer => "purge_answer",
        Pin => "pin_thread",
        Unpin => "unpin_thread",
    }
}
