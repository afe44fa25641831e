//! HTTP Basic Auth for the admin, and the cross-site request guard.

use super::i18n::Lang;
use crate::AppState;
use crate::config::Config;
use crate::error::{AppError, InternalError};
use crate::store::Store;
use crate::throttle::too_many;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use axum::body::Body;
use axum::extract::{OriginalUri, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

const PASSWORD_HASH_KEY: &str = "admin_password_hash";
/// Credentials proven once are remembered (as keyed digests) so argon2 runs once, not per request.
const REMEMBERED: usize = 16;
/// Memory of one argon2 run, in KiB: 19 MiB, with 2 passes and 1 lane (OWASP's recommendation).
const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
/// Argon2 runs at once across the server, so guesses cannot multiply its memory.
const CONCURRENT_HASHES: usize = 2;
/// How long a check may wait for a place before the server says it is busy.
const HASH_WAIT: Duration = Duration::from_secs(2);

/// Argon2 runs on a few threads of its own: at most that many checks hold their memory at
/// once, and each thread's allocator keeps reusing the same blocks instead of every blocking
/// thread of the runtime keeping a copy.
struct Hashers {
    places: Semaphore,
    work: std::sync::mpsc::Sender<HashJob>,
}

struct HashJob {
    hash: String,
    password: String,
    answer: tokio::sync::oneshot::Sender<bool>,
}

impl Hashers {
    fn start() -> Hashers {
        let (work, jobs) = std::sync::mpsc::channel::<HashJob>();
        let jobs = Arc::new(Mutex::new(jobs));
        for n in 0..CONCURRENT_HASHES {
            let jobs = Arc::clone(&jobs);
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    // Allocated once and reused: the allocator never sees argon2's memory churn.
                    let mut memory = Vec::new();
                    loop {
                        let Ok(job) = jobs.lock().expect("hash queue").recv() else {
                            return;
                        };
                        let ok = verify_hash_in(&mut memory, &job.hash, &job.password);
                        let _ = job.answer.send(ok);
                    }
                })
                .expect("a thread for password checks");
        }
        Hashers {
            places: Semaphore::new(CONCURRENT_HASHES),
            work,
        }
    }

    /// Whether `password` matches `hash`; `None` when no place freed up in time.
    async fn verify(&self, hash: &str, password: &str) -> Option<bool> {
        let _place = tokio::time::timeout(HASH_WAIT, self.places.acquire())
            .await
            .ok()?
            .ok()?;
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job = HashJob {
            hash: hash.to_owned(),
            password: password.to_owned(),
            answer,
        };
        self.work.send(job).ok()?;
        Some(answered.await.unwrap_or(false))
    }
}

/// How a credential check ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    Refused,
    /// Too many password checks were running to start another in time.
    Busy,
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(ARGON2_MEMORY_KIB, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

enum Password {
    /// Set by `BOOTHGATE_ADMIN_PASSWORD`.
    Fixed(String),
    /// Generated at the first start; only its argon2 hash is kept.
    Hashed(String),
}

pub struct AdminAuth {
    user: String,
    password: Password,
    key: [u8; 32],
    proven: Mutex<Vec<[u8; 32]>>,
    hashers: Hashers,
}

impl AdminAuth {
    pub async fn init(
        store: &Store,
        config: &Config,
        key: &[u8; 32],
        generated: &mut Vec<(&'static str, String)>,
    ) -> Result<AdminAuth, InternalError> {
        let password = match (
            &config.admin_password,
            store.stored_setting(PASSWORD_HASH_KEY).await?,
        ) {
            (Some(fixed), _) => Password::Fixed(fixed.clone()),
            (None, Some(hash)) => Password::Hashed(hash),
            (None, None) => {
                let plain = crate::generate_password(16);
                let hash = hash_password(&plain)?;
                store
                    .save_settings(&[(PASSWORD_HASH_KEY, hash.clone())])
                    .await?;
                generated.push(("admin password", plain));
                Password::Hashed(hash)
            }
        };
        Ok(AdminAuth {
            user: config.admin_user.clone(),
            password,
            key: *key,
            proven: Mutex::new(Vec::new()),
            hashers: Hashers::start(),
        })
    }

    fn fingerprint(&self, user: &str, password: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(user.as_bytes());
        mac.update(&[0]);
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Checks a user name and password in constant time; argon2 runs only for credentials
    /// not proven before, a few at a time.
    pub async fn verify(&self, user: &str, password: &str) -> Verdict {
        let given = self.fingerprint(user, password);
        let expected_user = self.fingerprint(&self.user, "");
        let user_ok = bool::from(self.fingerprint(user, "").ct_eq(&expected_user));
        let accepted = match &self.password {
            Password::Fixed(fixed) => {
                user_ok & bool::from(given.ct_eq(&self.fingerprint(&self.user, fixed)))
            }
            Password::Hashed(_) if self.remembered(&given) => true,
            Password::Hashed(hash) => {
                let Some(ok) = self.hashers.verify(hash, password).await else {
                    return Verdict::Busy;
                };
                if ok && user_ok {
                    self.remember(given);
                }
                ok && user_ok
            }
        };
        if accepted {
            Verdict::Accepted
        } else {
            Verdict::Refused
        }
    }

    fn remembered(&self, given: &[u8; 32]) -> bool {
        self.proven
            .lock()
            .expect("auth cache")
            .iter()
            .fold(false, |found, known| found | bool::from(known.ct_eq(given)))
    }

    fn remember(&self, given: [u8; 32]) {
        let mut proven = self.proven.lock().expect("auth cache");
        if proven.len() >= REMEMBERED {
            proven.remove(0);
        }
        proven.push(given);
    }

    /// The token admin forms carry; bound to this install's secret and the admin's name.
    pub fn csrf_token(&self) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(b"csrf\0");
        mac.update(self.user.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Refuses a form whose token is missing or not this install's.
    pub fn require_csrf(&self, token: Option<&str>) -> Result<(), AppError> {
        if self.csrf_matches(token) {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "the form is out of date; reload the page".into(),
            ))
        }
    }

    /// Whether a form's token is this install's, in constant time.
    pub fn csrf_matches(&self, token: Option<&str>) -> bool {
        let expected = self.csrf_token();
        let token = token.unwrap_or_default();
        token.len() == expected.len() && bool::from(token.as_bytes().ct_eq(expected.as_bytes()))
    }
}

fn hash_password(plain: &str) -> Result<String, InternalError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| InternalError::Other(e.to_string()))?;
    argon2()
        .hash_password(plain.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| InternalError::Other(e.to_string()))
}

/// Checks a password against a PHC-format argon2 hash, with `memory` as argon2's working
/// memory. A hash asking for more memory than this server's own parameters is refused.
fn verify_hash_in(memory: &mut Vec<Block>, hash: &str, plain: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    if params.m_cost() > ARGON2_MEMORY_KIB {
        return false;
    }
    let version = parsed
        .version
        .and_then(|v| Version::try_from(v).ok())
        .unwrap_or_default();
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    memory.resize(params.block_count(), Block::default());
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(plain.as_bytes(), salt, &mut out, memory.as_mut_slice())
        .is_ok()
        && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
}

fn basic_credentials(request: &Request) -> Option<(String, String)> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let (user, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Lets through only requests with the admin's credentials; an address that keeps guessing
/// wrong is refused for a while, and its guesses are counted before they are checked.
pub async fn require_admin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    let ip = crate::net::client_ip(&request, &state.settings().protection.trusted_proxies);
    state.admin_throttle.check(ip).map_err(too_many)?;
    let Some((user, password)) = basic_credentials(&request) else {
        // A browser's first request carries no credentials: that is no guess.
        return Ok(login_needed(&request));
    };
    let attempt = state.admin_throttle.reserve(ip).map_err(too_many)?;
    match state.admin.verify(&user, &password).await {
        Verdict::Accepted => {
            attempt.succeeded();
            Ok(next.run(request).await)
        }
        Verdict::Refused => {
            tracing::warn!(%ip, "wrong admin credentials");
            attempt.failed();
            Ok(login_needed(&request))
        }
        Verdict::Busy => {
            attempt.withdrawn();
            Err(AppError::Busy(
                "the server is busy checking passwords; try again in a moment",
            ))
        }
    }
}

/// The answer without the admin's credentials. A browser shows its body when the operator
/// cancels the login box: a page asks for a small page in its language; the API keeps JSON.
fn login_needed(request: &Request) -> Response {
    let mut response = AppError::Unauthorized.into_response();
    // Under `/admin` the router sees the path without its prefix: ask for the one the client sent.
    let path = request
        .extensions()
        .get::<OriginalUri>()
        .map_or(request.uri().path(), |uri| uri.path());
    let wants_page = !path.starts_with("/admin/api/")
        && request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"));
    if wants_page {
        let cookies = request.headers().get(header::COOKIE);
        let lang = Lang::from_cookie_header(cookies.and_then(|v| v.to_str().ok()));
        let t = lang.strings();
        let page = format!(
            "<!doctype html><html lang=\"{}\"><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{} · Boothgate</title><link rel=\"stylesheet\" href=\"/assets/{}\"><body><main><h1>{}</h1><p>{}</p><p><a class=\"button primary\" href=\"\">{}</a></p></main></body></html>",
            lang.code(),
            t.login_needed_title,
            super::assets::css_name(),
            t.login_needed_title,
            t.login_needed_text,
            t.login_again
        );
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.remove(header::CONTENT_LENGTH);
        *response.body_mut() = Body::from(page);
    }
    response
}

/// Refuses a state-changing request that a browser says comes from another site, and a JSON
/// API call that could have been a legacy browser's cross-site form.
pub async fn refuse_cross_site(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    if !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        if is_cross_site(&request) {
            return Err(AppError::Forbidden("cross-site request refused".into()));
        }
        // Only a POST: no HTML form can send PUT or DELETE.
        let form_method = request.method() == Method::POST;
        if form_method && could_be_a_foreign_form(&request) && !carries_form_token(&state, &request)
        {
            return Err(AppError::Forbidden(
                "send Content-Type: application/json (or the form token) with this request".into(),
            ));
        }
    }
    Ok(next.run(request).await)
}

/// A call of the JSON API that tells nothing of where it comes from (no `Origin`, no
/// `Sec-Fetch-Site`: a script, or a browser too old to say) with a body type an HTML form can
/// send. Scripts send a JSON, ZIP or image type, which no form can; the admin's own pages send
/// `Origin`.
fn could_be_a_foreign_form(request: &Request) -> bool {
    let headers = request.headers();
    let silent = !headers.contains_key(header::ORIGIN) && !headers.contains_key("sec-fetch-site");
    let is_api = request.uri().path().starts_with("/api/");
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let form_can_send = matches!(
        content_type.as_str(),
        "" | "application/x-www-form-urlencoded" | "multipart/form-data" | "text/plain"
    );
    silent && is_api && form_can_send
}

/// The form token in the `X-CSRF-Token` header.
fn carries_form_token(state: &AppState, request: &Request) -> bool {
    let token = request
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok());
    token.is_some() && state.admin.csrf_matches(token)
}

fn is_cross_site(request: &Request) -> bool {
    let headers = request.headers();
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if matches!(fetch_site, Some("cross-site" | "same-site")) {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        // Scripts and older browsers send no Origin; the form token covers forms.
        return false;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest.trim_end_matches('/'));
    origin_host.is_none() || origin_host != host
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_hash_verifies_only_its_password() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let mut memory = Vec::new();
        assert!(verify_hash_in(&mut memory, &hash, "correct horse"));
        assert!(!verify_hash_in(&mut memory, &hash, "wrong"));
        assert_eq!(memory.len(), 19 * 1024, "one reusable block of 19 MiB");
        let greedy = hash.replace("m=19456", "m=1048576");
        assert!(
            !verify_hash_in(&mut memory, &greedy, "correct horse"),
            "a hash asking for 1 GiB is refused"
        );
    }
}
