//! Signing-key rotation as a verifier caching the JWKS sees it: the next key is published
//! before it signs, and a retired key stays published until its tokens have expired.

use std::time::Duration;

use latchkey_core::Clock as _;
use latchkey_core::keys::{self, Algorithm, KeySealer};
use serde_json::Value;

use crate::support::{TestServer, backend_test, decode_part, verify_es256_against_jwks};

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

backend_test! {
    async fn rotation_prepublishes_the_next_key_and_retires_the_old_one_gracefully(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.service_client(&[]).await;
        let old_token = server.token(&client, None).await;
        let old_kid = decode_part(&old_token, 0)["kid"].as_str().unwrap().to_owned();

        // `latchkey key rotate`, done elsewhere (the CLI), picked up by the node's key refresh.
        let sealer = KeySealer::new(server.master()).unwrap();
        let next = keys::rotate(
            server.store(),
            &sealer,
            Algorithm::Es256,
            server.clock.now(),
            Duration::from_secs(3600),
        )
        .await
        .unwrap();
        server.context.refresh_keys().await.unwrap();

        // Published at once, but not yet signing: a verifier that caches the JWKS for its
        // max-age (300 s) sees the key long before the first token it signs.
        let cached = server.jwks().await;
        assert!(kids(&cached).contains(&next.kid.to_string()));
        server.clock.advance(Duration::from_secs(3000));
        let still_old = server.token(&client, None).await;
        assert_eq!(decode_part(&still_old, 0)["kid"], old_kid.as_str());

        // After the pre-publication period the new key signs; the verifier's cached JWKS,
        // fetched before the switch, still verifies the new tokens and the old ones.
        server.clock.advance(Duration::from_secs(600));
        let new_token = server.token(&client, None).await;
        assert_eq!(decode_part(&new_token, 0)["kid"], next.kid.as_str());
        verify_es256_against_jwks(&new_token, &cached);
        verify_es256_against_jwks(&old_token, &cached);
        let fresh = server.jwks().await;
        assert!(
            kids(&fresh).contains(&old_kid),
            "the retired key is still published"
        );
        assert_eq!(
            server.introspect(&client, &still_old).await["active"],
            true,
            "retired keys still verify"
        );
        assert_eq!(server.introspect(&client, &new_token).await["active"], true);

        // Once every token the old key could have signed has expired (the longest lifetime, ID
        // tokens' hour, + 5 min leeway), it drops out.
        server.clock.advance(Duration::from_secs(3900));
        let later = server.jwks().await;
        assert!(
            !kids(&later).contains(&old_kid),
            "retired key dropped after retention"
        );
        assert!(kids(&later).contains(&next.kid.to_string()));
        assert_eq!(later["keys"].as_array().unwrap().len(), 2);

        // Purging deletes the expired key from the database too.
        server.context.purge_expired().await.unwrap();
        let stored = server.store().list_keys().await.unwrap();
        assert!(stored.iter().all(|k| k.kid.as_str() != old_kid));
    }
}
