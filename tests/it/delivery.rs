//! The honest figure: guests with an AI photo out of every booth photo that passed the password
//! check, with the misses by reason beside it.

use crate::common::*;
use crate::fallbacks::{Fakes, gemini_image};
use serde_json::json;

#[tokio::test]
async fn the_rate_counts_every_booth_photo_and_names_the_misses() {
    let fakes = Fakes::start(gemini_image(), 0).await;
    let app = spawn_app(fakes.options()).await;
    let configure = |provider: &'static str, slot: u8, body: serde_json::Value| {
        let app = &app;
        async move {
            assert_eq!(app.put_slot(provider, slot, body).await.status(), 200);
        }
    };
    configure(
        "nanobanana",
        3,
        json!({"kind": "prompt", "prompt": "vintage"}),
    )
    .await;
    configure(
        "nanobanana",
        4,
        json!({"kind": "prompt", "prompt": "x", "enabled": false}),
    )
    .await;
    configure("nanobanana", 5, json!({"kind": "face_swap"})).await;
    // Turbotext has no key here.
    configure("turbotext", 1, json!({"kind": "prompt", "prompt": "x"})).await;
    for (path, status) in [
        ("/upload/nanobanana/3", 200),
        ("/upload/nanobanana/3", 200),
        ("/upload/nanobanana/4", 409),
        ("/upload/nanobanana/5", 409),
        ("/upload/turbotext/1", 503),
    ] {
        assert_eq!(
            upload_sample(&app, path, "guest-512.jpg").await.status,
            status,
            "{path}"
        );
    }
    let stats = app.admin_json("/admin/api/stats").await;
    assert_eq!(stats["ai_result_rate"], 0.4, "2 of 5 guests: {stats}");
    assert_eq!(
        stats["model_success_rate"], 1.0,
        "every photo that reached a model"
    );
    assert_eq!(
        stats["misses"],
        json!({"provider_not_configured": 1, "slot_disabled": 1, "slot_not_configured": 1})
    );
    let page = app.admin_html("/admin/stats").await;
    assert!(
        page.contains("Гости с ИИ-фото"),
        "the label says what it counts"
    );
    assert!(page.contains("40.0 %"));
    assert!(
        page.contains("1 — нет ключа API или адреса"),
        "misses by reason"
    );
    assert!(page.contains("1 — слот выключен"));
    let live = app.admin_html("/admin/live").await;
    assert!(live.contains(r#"id="live-rate">40.0 %"#));
}
