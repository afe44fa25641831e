//! The tablet's link: the Live page and its stream without the admin password, and nothing
//! else; a new link revokes the old.

use crate::common::*;
use reqwest::Method;
use serde_json::Value;

async fn make_link(app: &TestApp) -> String {
    let made = app
        .admin(Method::POST, "/admin/api/live-link")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 200);
    let url = made.json::<Value>().await.unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    url.strip_prefix(&app.base).expect("this server").to_owned()
}

#[tokio::test]
async fn the_tablet_link_opens_live_and_its_stream_and_nothing_else() {
    let app = demo_app(Options::demo()).await;
    let answer = upload_sample(&app, "/upload/nanobanana/3", "guest-512.jpg").await;
    assert_eq!(answer.status, 200);
    let job = answer.header("x-boothgate-job").unwrap().to_owned();
    // A guest who got nothing: the tablet says why, but links nowhere (History is the admin's).
    app.put_slot("nanobanana", 5, serde_json::json!({"enabled": false}))
        .await;
    let refused = upload_sample(&app, "/upload/nanobanana/5", "guest-512.jpg").await;
    assert_eq!(refused.status, 409);
    let link = make_link(&app).await;
    assert!(link.starts_with("/live/") && link.len() > 20, "{link}");

    let client = reqwest::Client::new();
    let get = |path: String| client.get(app.url(&path)).send();
    let page = get(link.clone()).await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"id="live""#), "the Live page");
    assert!(html.contains(&format!("{link}/events")), "its own stream");
    assert!(html.contains("NanoBanana 5 · <strong>слот выключен</strong></li>"));
    assert!(!html.contains("\"/admin"), "no way into the admin");
    assert!(!html.contains("data-job-link"), "failures link nowhere");
    assert!(!html.contains("csrf"), "no form token");
    assert!(html.contains(&format!("{link}/photos/{job}/after")));
    let photo = get(format!("{link}/photos/{job}/after")).await.unwrap();
    assert_eq!(photo.status(), 200, "the result thumbnail");
    assert_eq!(photo.headers()["content-type"], "image/jpeg");
    let stream = get(format!("{link}/events")).await.unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    drop(stream);
    assert_eq!(get("/assets/admin.css".into()).await.unwrap().status(), 200);

    // The token is no password: every admin route still asks for one.
    let token = link.trim_start_matches("/live/").to_owned();
    for path in [
        "/admin/live",
        "/admin/settings",
        "/admin/api/stats",
        &format!("/admin/jobs/{job}/original"),
    ] {
        let with_token = client
            .get(app.url(path))
            .basic_auth(ADMIN_USER, Some(&token))
            .send()
            .await
            .unwrap();
        assert_eq!(with_token.status(), 401, "{path}");
    }
    assert_eq!(
        get(format!("{link}/photos/{job}/original"))
            .await
            .unwrap()
            .status(),
        404,
        "no originals"
    );

    // A new link revokes the old.
    let new_link = make_link(&app).await;
    assert_ne!(new_link, link);
    assert_eq!(get(link.clone()).await.unwrap().status(), 404);
    assert_eq!(get(format!("{link}/events")).await.unwrap().status(), 404);
    assert_eq!(get(new_link).await.unwrap().status(), 200);
    assert_eq!(get("/live/guess".into()).await.unwrap().status(), 404);
}
