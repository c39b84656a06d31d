//! This instance as a federated actor: its row, domain and signing keys.

use crate::db::instance::{self, Instance, LocalInstanceError};
use crate::db::{Db, DbError};

/// Makes sure the local instance row exists for `domain` and has the key pair the instance
/// actor signs fetches with (made on first start).
pub async fn ensure_local_instance(db: &Db, domain: &str) -> anyhow::Result<Instance> {
    let local = instance::ensure_local(db, domain).await?;
    if local.public_key_pem.is_some() && local.private_key_pem.is_some() {
        return Ok(local);
    }
    let keypair = tokio::task::spawn_blocking(
        activitypub_federation::http_signatures::generate_actor_keypair,
    )
    .await??;
    let updated = crate::with_conn!(db, |conn| instance::set_keys_if_missing(
        &mut conn,
        local.id,
        &keypair.public_key,
        &keypair.private_key
    )
    .await
    .map_err(|e| LocalInstanceError::Db(DbError::from(e))))?;
    Ok(updated)
}
