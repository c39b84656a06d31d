//! Diesel table definitions shared by both backends, kept in step with both migration trees.

// Written by hand with portable types only; `db::migrations` tests check every column here
// exists on both backends and that the two trees agree.

diesel::table! {
    instances {
        id -> BigInt,
        domain -> Text,
        local -> Bool,
        software -> Nullable<Text>,
        version -> Nullable<Text>,
        public_key_pem -> Nullable<Text>,
        private_key_pem -> Nullable<Text>,
        last_success_at -> Nullable<Timestamp>,
        dead_since -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    local_actor_names (name) {
        name -> Text,
        kind -> Text,
    }
}

diesel::table! {
    persons {
        id -> BigInt,
        ap_id -> Text,
        local -> Bool,
        instance_id -> BigInt,
        name -> Text,
        name_lower -> Text,
        display_name -> Nullable<Text>,
        bio -> Nullable<Text>,
        bio_html -> Nullable<Text>,
        avatar_url -> Nullable<Text>,
        inbox_url -> Text,
        shared_inbox_url -> Nullable<Text>,
        public_key_pem -> Text,
        private_key_pem -> Nullable<Text>,
        bot -> Bool,
        deleted -> Bool,
        published -> Timestamp,
        updated -> Nullable<Timestamp>,
        last_refreshed_at -> Timestamp,
    }
}

diesel::table! {
    local_accounts {
        id -> BigInt,
        person_id -> BigInt,
        email -> Nullable<Text>,
        email_lower -> Nullable<Text>,
        password_hash -> Text,
        role -> Text,
        status -> Text,
        application_answer -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        invite_id -> Nullable<BigInt>,
        rejection_reason -> Nullable<Text>,
    }
}

diesel::table! {
    communities {
        id -> BigInt,
        ap_id -> Text,
        local -> Bool,
        instance_id -> BigInt,
        name -> Text,
        name_lower -> Text,
        title -> Text,
        description -> Nullable<Text>,
        description_html -> Nullable<Text>,
        rules -> Nullable<Text>,
        kind -> Text,
        visibility -> Text,
        posting_restricted_to_mods -> Bool,
        inbox_url -> Text,
        shared_inbox_url -> Nullable<Text>,
        followers_url -> Nullable<Text>,
        moderators_url -> Nullable<Text>,
        featured_url -> Nullable<Text>,
        public_key_pem -> Text,
        private_key_pem -> Nullable<Text>,
        deleted -> Bool,
        published -> Timestamp,
        updated -> Nullable<Timestamp>,
        last_refreshed_at -> Timestamp,
    }
}

diesel::table! {
    community_follows {
        id -> BigInt,
        community_id -> BigInt,
        person_id -> BigInt,
        state -> Text,
        follow_ap_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    community_moderators (community_id, person_id) {
        community_id -> BigInt,
        person_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    threads {
        id -> BigInt,
        ap_id -> Text,
        local -> Bool,
        community_id -> BigInt,
        author_id -> BigInt,
        kind -> Text,
        title -> Text,
        body -> Text,
        body_html -> Text,
        locked -> Bool,
        deleted -> Bool,
        removed -> Bool,
        score -> BigInt,
        upvotes -> BigInt,
        downvotes -> BigInt,
        answer_count -> BigInt,
        accepted_answer_count -> BigInt,
        last_activity_at -> Timestamp,
        published -> Timestamp,
        updated -> Nullable<Timestamp>,
        pinned -> Bool,
    }
}

diesel::table! {
    answers {
        id -> BigInt,
        ap_id -> Text,
        local -> Bool,
        thread_id -> BigInt,
        parent_id -> Nullable<BigInt>,
        author_id -> BigInt,
        depth -> BigInt,
        body -> Text,
        body_html -> Text,
        accepted -> Bool,
        accepted_at -> Nullable<Timestamp>,
        score -> BigInt,
        upvotes -> BigInt,
        downvotes -> BigInt,
        deleted -> Bool,
        removed -> Bool,
        published -> Timestamp,
        updated -> Nullable<Timestamp>,
    }
}

diesel::table! {
    thread_votes (thread_id, person_id) {
        thread_id -> BigInt,
        person_id -> BigInt,
        score -> BigInt,
        ap_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    answer_votes (answer_id, person_id) {
        answer_id -> BigInt,
        person_id -> BigInt,
        score -> BigInt,
        ap_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    tags {
        id -> BigInt,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    thread_tags (thread_id, tag_id) {
        thread_id -> BigInt,
        tag_id -> BigInt,
    }
}

diesel::table! {
    received_activities {
        id -> BigInt,
        ap_id -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    outbox_activities {
        id -> BigInt,
        ap_id -> Text,
        actor_ap_id -> Text,
        kind -> Text,
        payload -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    outbox_deliveries {
        id -> BigInt,
        activity_id -> BigInt,
        instance_id -> BigInt,
        inbox_url -> Text,
        state -> Text,
        attempts -> BigInt,
        next_attempt_at -> Timestamp,
        last_attempt_at -> Nullable<Timestamp>,
        last_status -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        ordering_key -> Nullable<Text>,
        claimed_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    auth_tokens {
        id -> BigInt,
        account_id -> BigInt,
        token_hash -> Text,
        kind -> Text,
        label -> Nullable<Text>,
        csrf_token -> Nullable<Text>,
        created_at -> Timestamp,
        last_used_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    invites {
        id -> BigInt,
        code -> Text,
        created_by -> Nullable<BigInt>,
        max_uses -> Nullable<BigInt>,
        uses -> BigInt,
        expires_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    thread_revisions {
        id -> BigInt,
        thread_id -> BigInt,
        editor_id -> BigInt,
        title -> Text,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    answer_revisions {
        id -> BigInt,
        answer_id -> BigInt,
        editor_id -> BigInt,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    mentions {
        id -> BigInt,
        thread_id -> Nullable<BigInt>,
        answer_id -> Nullable<BigInt>,
        kind -> Text,
        name -> Text,
        domain -> Text,
    }
}

diesel::table! {
    domain_blocks {
        id -> BigInt,
        domain -> Text,
        reason -> Nullable<Text>,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    domain_allows {
        id -> BigInt,
        domain -> Text,
        comment -> Nullable<Text>,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    instance_settings (name) {
        name -> Text,
        value -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    instance_bans (person_id) {
        person_id -> BigInt,
        reason -> Text,
        expires_at -> Nullable<Timestamp>,
        banned_by -> Nullable<BigInt>,
        published -> Timestamp,
    }
}

diesel::joinable!(thread_revisions -> threads (thread_id));
diesel::joinable!(thread_revisions -> persons (editor_id));
diesel::table! {
    reports {
        id -> BigInt,
        ap_id -> Text,
        reporter_id -> BigInt,
        community_id -> BigInt,
        thread_id -> BigInt,
        answer_id -> Nullable<BigInt>,
        reason -> Text,
        status -> Text,
        resolved_by -> Nullable<BigInt>,
        resolved_at -> Nullable<Timestamp>,
        published -> Timestamp,
    }
}

diesel::table! {
    community_bans (community_id, person_id) {
        community_id -> BigInt,
        person_id -> BigInt,
        reason -> Text,
        expires_at -> Nullable<Timestamp>,
        banned_by -> Nullable<BigInt>,
        published -> Timestamp,
    }
}

diesel::table! {
    mod_log {
        id -> BigInt,
        community_id -> Nullable<BigInt>,
        moderator_id -> Nullable<BigInt>,
        action -> Text,
        person_id -> Nullable<BigInt>,
        thread_id -> Nullable<BigInt>,
        answer_id -> Nullable<BigInt>,
        reason -> Nullable<Text>,
        expires_at -> Nullable<Timestamp>,
        published -> Timestamp,
    }
}

diesel::joinable!(answer_revisions -> answers (answer_id));
diesel::joinable!(answer_revisions -> persons (editor_id));
diesel::joinable!(mentions -> threads (thread_id));
diesel::joinable!(mentions -> answers (answer_id));
diesel::joinable!(auth_tokens -> local_accounts (account_id));
diesel::joinable!(invites -> local_accounts (created_by));
diesel::joinable!(persons -> instances (instance_id));
diesel::joinable!(local_accounts -> persons (person_id));
diesel::joinable!(communities -> instances (instance_id));
diesel::joinable!(community_follows -> communities (community_id));
diesel::joinable!(community_follows -> persons (person_id));
diesel::joinable!(community_moderators -> communities (community_id));
diesel::joinable!(community_moderators -> persons (person_id));
diesel::joinable!(threads -> communities (community_id));
diesel::joinable!(threads -> persons (author_id));
diesel::joinable!(answers -> threads (thread_id));
diesel::joinable!(answers -> persons (author_id));
diesel::joinable!(thread_votes -> threads (thread_id));
diesel::joinable!(thread_votes -> persons (person_id));
diesel::joinable!(answer_votes -> answers (answer_id));
diesel::joinable!(answer_votes -> persons (person_id));
diesel::joinable!(thread_tags -> threads (thread_id));
diesel::joinable!(thread_tags -> tags (tag_id));
diesel::joinable!(outbox_deliveries -> outbox_activities (activity_id));
diesel::joinable!(outbox_deliveries -> instances (instance_id));
diesel::joinable!(reports -> communities (community_id));
diesel::joinable!(reports -> threads (thread_id));
diesel::joinable!(community_bans -> communities (community_id));

diesel::allow_tables_to_appear_in_same_query!(
    instances,
    local_actor_names,
    persons,
    local_accounts,
    communities,
    community_follows,
    community_moderators,
    threads,
    answers,
    thread_votes,
    answer_votes,
    tags,
    thread_tags,
    received_activities,
    outbox_activities,
    outbox_deliveries,
    auth_tokens,
    invites,
    thread_revisions,
    answer_revisions,
    mentions,
    domain_blocks,
    domain_allows,
    instance_settings,
    instance_bans,
    reports,
    community_bans,
    mod_log,
);
