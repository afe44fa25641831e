//! Every model image is checked before the booth gets it: blank, the guest's photo handed back,
//! people missing. A rejected image hands over to the fallback, or to one more try of the same
//! slot; with nothing better, an image short of people is answered all the same, marked.

use crate::common::*;
use crate::faceset;
use crate::fallbacks::{Fakes, job_json, outcomes, pair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use boothgate::checks;
use boothgate::config::Setting;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const PRIMARY: &str = "/upload/nanobanana/3";

/// What the fake Gemini draws, try by try.
#[derive(Clone, Copy, Debug)]
enum Drawing {
    /// The photo it was sent, handed back.
    Unchanged,
    Blank,
    /// The group with its first person cut out.
    PersonCut,
    /// The cup: no one at all.
    NoOne,
    /// The group, warm-graded: a good edit.
    Good,
}

fn guest_group() -> image::RgbImage {
    faceset::group(3, 0)
}

fn drawn(drawing: Drawing, sent: &[u8]) -> Vec<u8> {
    let group = guest_group();
    let image = match drawing {
        Drawing::Unchanged => return sent.to_vec(),
        Drawing::Blank => image::RgbImage::from_pixel(1536, 512, image::Rgb([6, 6, 8])),
        Drawing::PersonCut => faceset::warm(&faceset::one_cut_out(&group)),
        Drawing::NoOne => faceset::no_face(1),
        Drawing::Good => faceset::warm(&group),
    };
    faceset::jpeg(&image, 90)
}

/// Gemini answering each try with the next drawing (the last one repeated).
struct Drawer {
    drawings: Vec<Drawing>,
    tries: Arc<AtomicUsize>,
}

impl Respond for Drawer {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let sent = body["contents"][0]["parts"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|p| p["inline_data"]["data"].as_str())
            .map(|b64| BASE64.decode(b64).unwrap())
            .expect("the guest's photo");
        let n = self.tries.fetch_add(1, Ordering::SeqCst);
        let drawing = self.drawings[n.min(self.drawings.len() - 1)];
        ResponseTemplate::new(200).set_body_json(json!({
            "candidates": [{"content": {"role": "model", "parts": [
                {"inlineData": {"mimeType": "image/jpeg", "data": BASE64.encode(drawn(drawing, &sent))}}
            ]}, "finishReason": "STOP", "index": 0}],
            "modelVersion": "gemini-nano-banana-2.1", "responseId": "resp-1"
        }))
    }
}

struct Scene {
    app: TestApp,
    fakes: Fakes,
    tries: Arc<AtomicUsize>,
}

/// nanobanana/3 of `kind` (with `extra` slot fields) drawing `drawings`; with `fallback`,
/// deepseek/2 (the images endpoint, answering a good edit) behind it.
async fn scene(kind: &str, extra: Value, drawings: &[Drawing], fallback: bool) -> Scene {
    scene_with(kind, extra, drawings, fallback, std::convert::identity).await
}

async fn scene_with(
    kind: &str,
    extra: Value,
    drawings: &[Drawing],
    fallback: bool,
    settings: impl FnOnce(Options) -> Options,
) -> Scene {
    let tries = Arc::new(AtomicUsize::new(0));
    let fakes = Fakes {
        gemini: MockServer::start().await,
        images: MockServer::start().await,
    };
    Mock::given(method("POST"))
        .and(path_regex(":generateContent$"))
        .respond_with(Drawer {
            drawings: drawings.to_vec(),
            tries: tries.clone(),
        })
        .mount(&fakes.gemini)
        .await;
    let good = drawn(Drawing::Good, &[]);
    Mock::given(method("POST"))
        .and(path("/v1/images/edits"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "created": 1_780_000_000, "data": [{"b64_json": BASE64.encode(&good)}]})))
        .mount(&fakes.images)
        .await;
    let options = fakes.options().with(Setting::PriceNanobanana, "0.04");
    let app = spawn_app(settings(options)).await;
    for slot in ["nanobanana/3", "deepseek/2"] {
        let (provider, number) = slot.split_once('/').unwrap();
        let number: u8 = number.parse().unwrap();
        let reference = sample("reference-background.jpg");
        assert_eq!(
            app.put_reference(provider, number, reference)
                .await
                .status(),
            200
        );
    }
    assert_eq!(
        app.put_slot(
            "deepseek",
            2,
            json!({"kind": "background", "prompt": "a beach"})
        )
        .await
        .status(),
        200
    );
    let mut fields = json!({"kind": kind, "prompt": "on the moon", "fallback_after_secs": 0,
                            "fallbacks": if fallback { json!(["deepseek/2"]) } else { json!([]) }});
    for (key, value) in extra.as_object().unwrap() {
        fields[key] = value.clone();
    }
    let saved = app.put_slot("nanobanana", 3, fields).await;
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
    Scene { app, fakes, tries }
}

async fn upload_group(app: &TestApp) -> RawResponse {
    let photo = faceset::jpeg(&guest_group(), 92);
    let (content_type, body) = dslr_body(UPLOAD_PASSWORD, "IMG_0042.JPG", "image/jpeg", &photo);
    dslr_post(app.addr, PRIMARY, &content_type, &body).await
}

/// A scene with a fallback drawing `drawing`, and the job of one group photo sent to it.
async fn one_job(kind: &str, extra: Value, drawing: Drawing) -> (Scene, Value) {
    let s = scene(kind, extra, &[drawing], true).await;
    let job = job_json(&s.app, &upload_group(&s.app).await).await;
    (s, job)
}

fn check_of(job: &Value, attempt: usize) -> &Value {
    &job["attempts"][attempt]["check"]
}

#[tokio::test]
async fn each_bad_image_is_rejected_with_its_reason_and_the_fallback_answers() {
    for (drawing, verdict, reason) in [
        (
            Drawing::Unchanged,
            "unchanged",
            "the photo came back unchanged",
        ),
        (Drawing::Blank, "blank", "blank image"),
        (Drawing::PersonCut, "people", "1 of 3 people missing"),
    ] {
        let s = scene("background", json!({}), &[drawing], true).await;
        let response = upload_group(&s.app).await;
        assert_eq!(
            response.status,
            200,
            "{drawing:?}: {}",
            String::from_utf8_lossy(&response.body)
        );
        assert_eq!(
            response.header("x-boothgate-answered-by"),
            Some("deepseek/2"),
            "{drawing:?}"
        );
        assert_eq!(response.header("x-boothgate-check"), None);
        let job = job_json(&s.app, &response).await;
        assert_eq!(
            outcomes(&job),
            [
                pair("nanobanana/3", "rejected"),
                pair("deepseek/2", "succeeded")
            ],
            "{drawing:?}: {job}"
        );
        let rejected = check_of(&job, 0);
        assert_eq!(rejected["verdict"], verdict, "{job}");
        assert_eq!(rejected["reason"], reason, "{job}");
        assert_eq!(job["attempts"][0]["reason"], "rejected_result");
        assert_eq!(check_of(&job, 1)["verdict"], "passed", "{job}");
        assert_eq!(job["check_verdict"], "passed");
        if verdict == "people" {
            assert_eq!(
                (
                    rejected["faces_in"].as_u64(),
                    rejected["faces_out"].as_u64()
                ),
                (Some(3), Some(2))
            );
        }
        // The primary answered: its health is not the picture's fault.
        let providers = s.app.admin_json("/admin/api/providers").await;
        assert_eq!(providers["nanobanana"]["health"], "ok", "{providers}");
        // A rejected image still cost money: both images are billed.
        let stats = s.app.admin_json("/admin/api/stats").await;
        assert_eq!(stats["checks"]["rejected"], 1, "{stats}");
        assert_eq!(stats["checks"]["rescued"], 1, "{stats}");
        assert_eq!(stats["cost"]["by_provider"]["nanobanana"], 0.04, "{stats}");
    }
}

#[tokio::test]
async fn a_slot_without_a_fallback_tries_once_more_and_the_good_image_answers() {
    let s = scene(
        "background",
        json!({}),
        &[Drawing::Blank, Drawing::Good],
        false,
    )
    .await;
    let event: Value = crate::events::start_event(&s.app, "Wedding")
        .await
        .json()
        .await
        .unwrap();
    let response = upload_group(&s.app).await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(response.header("x-boothgate-check"), None);
    let job = job_json(&s.app, &response).await;
    assert_eq!(
        outcomes(&job),
        [
            pair("nanobanana/3", "rejected"),
            pair("nanobanana/3", "succeeded")
        ],
        "{job}"
    );
    assert_eq!(s.tries.load(Ordering::SeqCst), 2);
    let passed = check_of(&job, 1);
    assert_eq!(
        (passed["verdict"].as_str(), passed["faces_in"].as_u64()),
        (Some("passed"), Some(3)),
        "{job}"
    );
    // The image answered is the good edit, warm: red above blue.
    let [r, _, b] = crate::samples::mean_rgb(&response.body);
    assert!(r > b, "the second try's image");
    // The event's report counts the rescue.
    let report = s
        .app
        .admin_json(&format!("/admin/api/events/{}", event["id"]))
        .await;
    let checks = &report["checks"];
    assert_eq!(
        (
            checks["rejected"].as_i64(),
            checks["rescued"].as_i64(),
            checks["rescued_share"].as_f64()
        ),
        (Some(1), Some(1), Some(1.0)),
        "{report}"
    );
    assert_eq!(checks["rejected_by_slot"]["nanobanana/3"], 1);
    let page = s.app.admin_html("/admin/events").await;
    assert!(
        page.contains("Спасено повторной попыткой: 1 (100.0 %)"),
        "the events page"
    );
}

#[tokio::test]
async fn with_every_try_short_of_people_the_last_image_answers_marked() {
    let s = scene("background", json!({}), &[Drawing::PersonCut], false).await;
    let response = upload_group(&s.app).await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(response.header("x-boothgate-check"), Some("failed"));
    let job = job_json(&s.app, &response).await;
    assert_eq!(job["status"], "succeeded");
    assert_eq!(job["check_verdict"], "people", "{job}");
    assert_eq!(
        outcomes(&job),
        [
            pair("nanobanana/3", "rejected"),
            pair("nanobanana/3", "rejected")
        ],
        "{job}"
    );
    assert_eq!(s.tries.load(Ordering::SeqCst), 2, "one more try, not more");
    // History says so in the page's language.
    let history = s.app.admin_html("/admin/jobs").await;
    assert!(history.contains("проверка не пройдена"), "the badge");
    assert!(
        history.contains("пропали люди: 1 из 3"),
        "the reason in Russian"
    );
}

#[tokio::test]
async fn with_every_try_blank_or_unchanged_the_booth_gets_502_and_the_original_is_kept() {
    for drawing in [Drawing::Blank, Drawing::Unchanged] {
        let s = scene("background", json!({}), &[drawing], false).await;
        let response = upload_group(&s.app).await;
        assert_eq!(response.status, 502, "{drawing:?}");
        let body = response.json();
        assert_eq!(body["reason"], "rejected_result", "{body}");
        let job = s.app.job_in_trash(&response, "failed").await;
        assert_eq!(job.reason.as_deref(), Some("rejected_result"));
        let stats = s.app.admin_json("/admin/api/stats").await;
        assert_eq!(stats["misses"]["rejected_result"], 1, "{stats}");
    }
}

#[tokio::test]
async fn a_good_edit_passes_untouched() {
    let s = scene("background", json!({}), &[Drawing::Good], true).await;
    let response = upload_group(&s.app).await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("x-boothgate-answered-by"),
        Some("nanobanana/3")
    );
    let job = job_json(&s.app, &response).await;
    assert_eq!(outcomes(&job), [pair("nanobanana/3", "succeeded")], "{job}");
    assert_eq!(
        check_of(&job, 0),
        &json!({"faces_in": 3, "faces_out": 3, "verdict": "passed", "reason": null})
    );
    assert_eq!(s.fakes.renders().await, 0, "the fallback was not needed");
}

#[tokio::test]
async fn the_people_rule_follows_the_type_unless_the_slot_sets_its_own() {
    // Face swap: at least one face; no one in the result is rejected.
    let (_, job) = one_job("face_swap", json!({}), Drawing::NoOne).await;
    assert_eq!(
        check_of(&job, 0)["reason"],
        "no face in the result",
        "{job}"
    );
    // By prompt: off; a person cut out passes, its faces not counted.
    let (_, job) = one_job("prompt", json!({}), Drawing::PersonCut).await;
    assert_eq!(outcomes(&job), [pair("nanobanana/3", "succeeded")], "{job}");
    assert_eq!(check_of(&job, 0)["faces_out"], Value::Null);
    // A background slot set to off passes it too; a prompt slot set to "at least one" refuses
    // the cup.
    let off = json!({"people_check": "off"});
    let (s, job) = one_job("background", off, Drawing::PersonCut).await;
    assert_eq!(outcomes(&job), [pair("nanobanana/3", "succeeded")], "{job}");
    let slot = s.app.admin_json("/admin/api/slots/nanobanana/3").await;
    assert_eq!(
        (slot["people_check"].as_str(), slot["people_rule"].as_str()),
        (Some("off"), Some("off"))
    );
    let one = json!({"people_check": "at_least_one"});
    let (s, job) = one_job("prompt", one, Drawing::NoOne).await;
    assert_eq!(outcomes(&job)[0], pair("nanobanana/3", "rejected"), "{job}");
    // A rule that does not exist is refused by name.
    let refused = s
        .app
        .put_slot("nanobanana", 3, json!({"people_check": "most"}))
        .await;
    assert_eq!(refused.status(), 422);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["field"],
        "people_check"
    );
}

#[tokio::test]
async fn with_the_checks_off_a_bad_image_goes_to_the_booth() {
    let off = |o: Options| o.with(Setting::CheckResults, "0");
    let s = scene_with("background", json!({}), &[Drawing::Blank], true, off).await;
    let response = upload_group(&s.app).await;
    assert_eq!(
        response.header("x-boothgate-answered-by"),
        Some("nanobanana/3")
    );
    let job = job_json(&s.app, &response).await;
    assert_eq!(check_of(&job, 0), &Value::Null);
}

#[test]
fn unchanged_and_blank_are_found_every_time_with_no_false_alarm() {
    for pair in faceset::unchanged_set() {
        let share = checks::changed_share(
            &faceset::glance(&pair.guest),
            &faceset::glance(&pair.result),
        );
        assert_eq!(
            checks::is_unchanged(
                &faceset::glance(&pair.guest),
                &faceset::glance(&pair.result)
            ),
            pair.unchanged,
            "{} (changed share {share})",
            pair.name
        );
    }
    for frame in faceset::blank_set() {
        assert_eq!(
            checks::is_blank(&faceset::glance(&frame.jpeg)),
            frame.blank,
            "{}",
            frame.name
        );
    }
}

#[test]
fn faces_are_counted_on_the_labelled_set() {
    let set = faceset::counting_set();
    let exact = |filter: &dyn Fn(&faceset::Counted) -> bool| {
        let cases: Vec<_> = set.iter().filter(|c| filter(c)).collect();
        let right = cases
            .iter()
            .filter(|c| faceset::guest_faces(&c.jpeg) == c.faces)
            .count();
        right as f64 / cases.len() as f64
    };
    // The targets; BENCHMARKS.md has the figures.
    assert_eq!(
        exact(&|c| c.faces == 0),
        1.0,
        "no face imagined in the cat or the cup"
    );
    let small = exact(&|c| (1..=2).contains(&c.faces));
    assert_eq!(small, 1.0, "groups of 1–2 counted exactly");
    let all = exact(&|_| true);
    assert!(all >= 0.95, "all counted exactly: {all}");
    let (raised, results) = faceset::false_missing(&set);
    assert!(
        raised * 50 <= results,
        "\"people missing\" on {raised} of {results} correct results"
    );
}

#[tokio::test]
async fn a_preflight_says_rejected_for_a_slot_whose_images_fail_their_check() {
    let s = scene("background", json!({}), &[Drawing::Blank], false).await;
    let id = crate::preflight::start(&s.app, Some(json!({"slots": ["nanobanana/3"]}))).await;
    let board = crate::preflight::finished_board(&s.app, &id).await;
    let row = &board["results"][0];
    assert_eq!(row["outcome"], "rejected", "{board}");
    assert_eq!(row["reason"], "rejected_result");
    assert!(
        row["cost"].as_f64().unwrap() > 0.0,
        "its images were drawn, and billed: {board}"
    );
    let page = s.app.admin_html(&format!("/admin/preflight/{id}")).await;
    assert!(page.contains("Отклонено проверкой"), "the outcome in words");
}
