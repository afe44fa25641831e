//! Booths: every booth seen by its name or address, and a wrong upload password recorded
//! without its photo, one row per address however many arrive.

use crate::common::*;
use serde_json::Value;

const SLOT: &str = "/upload/nanobanana/3";

async fn booths_once(app: &TestApp, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..100 {
        let json = app.admin_json("/admin/api/booths").await;
        let booths = json["booths"].as_array().unwrap().clone();
        if done(&booths) {
            return booths;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the booths never showed what was expected");
}

#[tokio::test]
async fn a_booth_with_a_wrong_password_is_named_and_red_and_its_photo_is_not_kept() {
    let app = demo_app(Options::demo()).await;
    let photo = sample("guest-512.jpg");
    let (content_type, body) = dslr_body("not-the-password", "IMG_0001.JPG", "image/jpeg", &photo);
    assert_eq!(
        dslr_post(app.addr, SLOT, &content_type, &body).await.status,
        401
    );
    let (content_type, body) = dslr_body(UPLOAD_PASSWORD, "IMG_0002.JPG", "image/jpeg", &photo);
    assert_eq!(
        dslr_post(app.addr, SLOT, &content_type, &body).await.status,
        200
    );
    let booths = booths_once(&app, |b| {
        b.first().is_some_and(|b| b["wrong_passwords_1h"] == 1)
    })
    .await;
    assert_eq!(booths.len(), 1, "one booth, known by its name: {booths:?}");
    let booth = &booths[0];
    assert_eq!(booth["name"], "DESKTOP-K968T3F");
    assert_eq!(booth["address"], "127.0.0.1");
    assert_eq!(booth["photos"], 1);
    assert_eq!(booth["succeeded"], 1);
    assert_eq!(booth["last_status"], "succeeded");
    assert_eq!(booth["throttled"], false);
    assert!(booth["last_seen"].as_str().unwrap().ends_with('Z'));
    let originals = app
        .media_files()
        .into_iter()
        .filter(|f| f.starts_with("originals/"))
        .count();
    assert_eq!(originals, 1, "the wrong password's photo was never kept");
    let page = app.admin_html("/admin/booths").await;
    assert!(
        page.contains(r#"class="booth alarm" data-booth="DESKTOP-K968T3F""#),
        "red"
    );
    let stats = app.admin_html("/admin/stats").await;
    assert!(stats.contains("Будка DESKTOP-K968T3F: неверный пароль загрузки (1 за час)"));
    let live = app.admin_html("/admin/live").await;
    assert!(live.contains("Будка DESKTOP-K968T3F: неверный пароль загрузки"));
}

#[tokio::test]
async fn three_hundred_wrong_passwords_from_one_address_cost_one_row() {
    let app = demo_app(Options::demo()).await;
    let photo = sample("guest-512.jpg");
    let (content_type, body) = dslr_body("guess", "IMG_0001.JPG", "image/jpeg", &photo);
    for _ in 0..300 {
        let status = dslr_post(app.addr, SLOT, &content_type, &body).await.status;
        assert!(status == 401 || status == 429, "{status}");
    }
    let booths = booths_once(&app, |b| b.first().is_some_and(|b| b["throttled"] == true)).await;
    assert_eq!(booths.len(), 1, "{booths:?}");
    let counted = booths[0]["wrong_passwords_1h"].as_i64().unwrap();
    assert!((1..=300).contains(&counted), "{counted}");
    assert!(
        app.media_files()
            .iter()
            .all(|f| !f.starts_with("originals/"))
    );
}
