//! Real instances start, answer over HTTP, and stop cleanly on each backend.

use std::time::Duration;

use federation_tests::{TestInstance, backends, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_serve_healthz_side_by_side() {
    for backend in backends() {
        let alpha = TestInstance::start("alpha", backend)
            .await
            .expect("alpha starts");
        let beta = TestInstance::start("beta", backend)
            .await
            .expect("beta starts");
        assert_ne!(alpha.base_url, beta.base_url);
        for instance in [&alpha, &beta] {
            let url = instance.url("/healthz");
            let healthy = wait_until(Duration::from_secs(10), || async {
                matches!(reqwest::get(&url).await, Ok(r) if r.status() == 200)
            })
            .await;
            assert!(healthy, "{} ({backend:?}) answers /healthz", instance.name);
        }
        let missing = reqwest::get(alpha.url("/api/v1/nowhere"))
            .await
            .expect("request");
        assert_eq!(missing.status(), 404);
        let body: serde_json::Value = missing.json().await.expect("JSON error body");
        assert_eq!(body["error"]["code"], "unknown_endpoint");
        let alpha_url = alpha.url("/healthz");
        alpha.stop().await.expect("alpha stops");
        assert!(
            reqwest::get(&alpha_url).await.is_err(),
            "alpha's port is closed"
        );
        beta.stop().await.expect("beta stops");
    }
}
