//! The booth slot and its fallbacks inside one deadline. The next slot starts at once when the
//! current one fails for a provider-side reason, and — hedging — also when the current one has
//! not answered after the booth slot's `fallback_after_secs`; the first image wins and the
//! others are dropped (their HTTP calls cancelled, a Turbotext queue no longer polled). A
//! fallback's own fallbacks are not followed, so no cycle can form.
//!
//! Each image is checked before it wins (see [`crate::checks`]): one that fails hands over like
//! a failure, and a chain with nothing left tries its last slot once more while the time left
//! allows. When nothing passes, an image that failed only the people check is answered all the
//! same — a slightly wrong AI photo beats none.

use super::inputs;
use super::inspect::{Guest, Looked};
use super::job::Job;
use crate::AppState;
use crate::alerts::Event;
use crate::checks::{Check, PeopleRule, Verdict};
use crate::config::Settings;
use crate::domain::{AttemptOutcome as Outcome, Provider, Slot, SlotId, SlotUnavailable};
use crate::error::AppError;
use crate::imaging::{Decoded, Glance};
use crate::lifecycle::{self, Sign};
use crate::providers::health::{Admission, Change};
use crate::providers::registry;
use crate::providers::{self, ImageData, ImageModel, ModelOutput, ModelRequest, ProviderError};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::time::Instant;

/// The guest's photo as every slot's model gets it.
pub struct Prepared {
    /// Upright and at most the providers' max side.
    pub photo: ImageData,
    /// Upright size of the upload, for choosing the answer's aspect.
    pub upload_size: (u32, u32),
    /// The long side of the photo the booth gets back.
    pub result_side: u32,
    /// The reduced copies the result checks compare with.
    pub glance: std::sync::Arc<Glance>,
}

/// Time kept to fit and send an image already held when the deadline nears: no new try starts
/// inside it, and a held image is answered when it begins.
const FIT_RESERVE: Duration = Duration::from_secs(2);

/// A slot to try, with its prompt filled from the booth's values.
#[derive(Clone)]
struct Candidate {
    slot: Slot,
    prompt: String,
}

/// The slot that drew the image, and what it drew (its image decoded, its bytes gone).
pub struct Drawn {
    pub slot: SlotId,
    pub output: ModelOutput,
    pub decoded: Decoded,
    /// What the checks made of it; `None` with the checks off.
    pub check: Option<Check>,
    pub model_ms: i64,
}

/// A slot's model has answered.
struct Answered {
    index: usize,
    slot: SlotId,
    rule: PeopleRule,
    result: Result<ModelOutput, ProviderError>,
}

type Running = Pin<Box<dyn Future<Output = Answered> + Send>>;

/// The slots still to try, and those at work.
struct Chain<'a> {
    state: &'a AppState,
    settings: &'a Settings,
    job: &'a Job,
    prepared: &'a Prepared,
    next: Option<Candidate>,
    /// The fallbacks after `next`, the last to try first.
    waiting: Vec<SlotId>,
    running: FuturesUnordered<Running>,
    last_error: Option<AppError>,
    hedge_after: Duration,
    /// When the next slot starts as well, if the ones at work have not answered.
    hedge_at: Option<Instant>,
    guest: Guest,
    /// The last slot started, to try once more when every image was rejected.
    last_started: Option<Candidate>,
    retried: bool,
    /// How long the last rejected image took to draw.
    rejected_ms: Option<i64>,
    /// The last image that failed only the people check, answered if nothing passes.
    held: Option<Drawn>,
}

/// Runs the booth slot (already found ready), then its fallbacks as needed, until one draws an
/// image; the last failure is the answer when none does.
pub async fn run(
    state: &AppState,
    settings: &Settings,
    job: &Job,
    prepared: &Prepared,
    booth: Slot,
) -> Result<Drawn, AppError> {
    let mut waiting = if job.start.alone {
        Vec::new()
    } else {
        booth.fallbacks.clone()
    };
    waiting.reverse();
    let mut chain = Chain {
        state,
        settings,
        job,
        prepared,
        hedge_after: Duration::from_secs(booth.fallback_after_secs.into()),
        next: Some(Candidate {
            slot: booth,
            prompt: job.prompt.clone(),
        }),
        waiting,
        running: FuturesUnordered::new(),
        last_error: None,
        hedge_at: None,
        guest: Guest::new(prepared.glance.clone()),
        last_started: None,
        retried: false,
        rejected_ms: None,
        held: None,
    };
    chain.start_next().await;
    loop {
        if chain.running.is_empty() && !chain.try_again().await {
            return chain.give_up();
        }
        if chain.running.is_empty() {
            continue;
        }
        let give_up_at = chain.held.as_ref().map(|_| chain.last_start_at());
        tokio::select! {
            Some(answered) = chain.running.next() => {
                match chain.ended(answered).await {
                    Some(drawn) => return Ok(drawn),
                    // A failure hands over at once, unless another slot is already at work.
                    None if chain.running.is_empty() => chain.start_next().await,
                    None => {}
                }
            }
            () = sleep_until_option(chain.hedge_at) => {
                tracing::info!("no answer yet: the next slot starts as well");
                chain.start_next().await;
            }
            () = sleep_until_option(give_up_at) => {
                tracing::info!("the deadline nears: the held image is answered");
                return chain.give_up();
            }
        }
    }
}

impl Chain<'_> {
    /// The last moment a try may start, and a held image must be answered by.
    fn last_start_at(&self) -> Instant {
        self.job.model_deadline() - FIT_RESERVE
    }

    /// With nothing left to try after a rejected image: the last slot once more, if one try
    /// fits in the time left (a try as long as the rejected one). Whether one started.
    async fn try_again(&mut self) -> bool {
        if self.retried || !matches!(self.last_error, Some(AppError::RejectedResult(_))) {
            return false;
        }
        let (Some(candidate), Some(took)) = (self.last_started.clone(), self.rejected_ms) else {
            return false;
        };
        let took = Duration::from_millis(took.max(0) as u64);
        if Instant::now() + took > self.last_start_at() {
            return false;
        }
        self.retried = true;
        tracing::info!(slot = %candidate.slot.id, "every image was rejected: one more try");
        match self.start(candidate, false).await {
            Ok(attempt) => {
                self.running.push(attempt);
                true
            }
            Err(e) => {
                self.last_error = Some(e);
                false
            }
        }
    }

    /// Nothing passed: the held image if there is one, else the last failure.
    fn give_up(&mut self) -> Result<Drawn, AppError> {
        match self.held.take() {
            Some(drawn) => Ok(drawn),
            None => Err(self.last_error.take().unwrap_or(AppError::SlotDisabled)),
        }
    }

    /// The next fallback that exists and is ready; a deleted one is passed over, one that is
    /// off or half set up is recorded as skipped.
    async fn load_next(&mut self) -> Option<Candidate> {
        while let Some(id) = self.waiting.pop() {
            let slot = match self.state.store.slot(id).await {
                Ok(slot) => slot,
                Err(e) => {
                    tracing::warn!(slot = %id, error = %e, "fallback slot unavailable");
                    continue;
                }
            };
            if let Err(reason) = slot.check_ready() {
                let at = self.job.elapsed_ms();
                let index = self.job.attempts.begin(id, at);
                let error = unavailable(reason);
                self.job
                    .attempts
                    .end(index, at, Outcome::Skipped, Some(&error));
                self.last_error = Some(error);
                continue;
            }
            let prompt = self.job.start.values.fill(&slot.prompt);
            return Some(Candidate { slot, prompt });
        }
        None
    }

    /// Starts the next slot that can take the photo; those that cannot are recorded and passed.
    async fn start_next(&mut self) {
        self.hedge_at = None;
        loop {
            if self.next.is_none() {
                self.next = self.load_next().await;
            }
            let Some(candidate) = self.next.take() else {
                return;
            };
            let more = !self.waiting.is_empty();
            match self.start(candidate, more).await {
                Ok(attempt) => {
                    self.running.push(attempt);
                    if more && !self.hedge_after.is_zero() {
                        self.hedge_at = Some(Instant::now() + self.hedge_after);
                    }
                    return;
                }
                Err(e) => self.last_error = Some(e),
            }
        }
    }

    /// Tells the operator when a provider went down or came back.
    fn tell(&self, provider: Provider, change: Option<Change>, error: Option<&ProviderError>) {
        let event = match change {
            Some(Change::WentDown) => Event::ProviderDown {
                provider,
                error: error.map(ToString::to_string).unwrap_or_default(),
            },
            Some(Change::Recovered) => Event::ProviderRecovered { provider },
            None => return,
        };
        self.state.alerts.raise(event);
    }

    /// Records an attempt's end; the image, if it drew one that passed its checks.
    async fn ended(&mut self, answered: Answered) -> Option<Drawn> {
        let Answered {
            index,
            slot,
            rule,
            result,
        } = answered;
        let job = self.job;
        let at = job.elapsed_ms();
        match result {
            // The provider answered: its health is good whatever the checks make of the image.
            Ok(output) => {
                let change = self.state.health.record(slot.provider, Ok(()));
                self.tell(slot.provider, change, None);
                let model_ms = at - job.attempts.started_ms(index);
                self.checked(index, slot, rule, output, model_ms).await
            }
            Err(e) => {
                if counts_against(&e) {
                    let change = self.state.health.record(slot.provider, Err(&e));
                    self.tell(slot.provider, change, Some(&e));
                }
                if matches!(e, ProviderError::NoCredit(_)) {
                    let provider = slot.provider;
                    self.state.alerts.raise(Event::NoCredit { provider });
                }
                if matches!(e, ProviderError::ModelNotFound(_)) {
                    let state = self.state.clone();
                    tokio::spawn(async move {
                        let listings = registry::spec(slot.provider).listings;
                        lifecycle::follow(&state, listings, Sign::NotFound).await;
                    });
                }
                let error = AppError::from(e);
                let outcome = if matches!(error, AppError::Timeout) {
                    Outcome::TimedOut
                } else {
                    Outcome::Failed
                };
                self.failed(index, slot, outcome, error);
                None
            }
        }
    }

    fn failed(&mut self, index: usize, slot: SlotId, outcome: Outcome, error: AppError) {
        self.job
            .attempts
            .end(index, self.job.elapsed_ms(), outcome, Some(&error));
        tracing::warn!(%slot, reason = error.reason(), %error, "slot failed");
        self.last_error = Some(error);
    }

    /// Decodes and checks a model's image; the image if it passed, kept back if it failed only
    /// the people check.
    async fn checked(
        &mut self,
        index: usize,
        slot: SlotId,
        rule: PeopleRule,
        mut output: ModelOutput,
        model_ms: i64,
    ) -> Option<Drawn> {
        let image = std::mem::take(&mut output.image);
        let prepared = self.prepared;
        let side = (prepared.upload_size, prepared.result_side);
        let rule = self.settings.check_results.then_some(rule);
        let looked = self
            .guest
            .look(self.state, image, side.0, side.1, rule)
            .await;
        let Looked { decoded, check } = match looked {
            Ok(looked) => looked,
            Err(e) => {
                let unusable = format!("the model's image cannot be used: {e}");
                let error = AppError::Provider(ProviderError::Protocol(unusable));
                self.failed(index, slot, Outcome::Failed, error);
                return None;
            }
        };
        let attempts = &self.job.attempts;
        attempts.set_check(index, check.clone());
        let drawn = Drawn {
            slot,
            output,
            decoded,
            check,
            model_ms,
        };
        let Some(check) = drawn.check.as_ref().filter(|c| !c.passed()) else {
            attempts.end(index, self.job.elapsed_ms(), Outcome::Succeeded, None);
            // The others are dropped with the chain: abandoned.
            return Some(drawn);
        };
        let reason = check.reason.clone().unwrap_or_default();
        tracing::warn!(%slot, %reason, "the image failed its check");
        let people_only = check.verdict == Verdict::People;
        self.failed(
            index,
            slot,
            Outcome::Rejected,
            AppError::RejectedResult(reason),
        );
        self.rejected_ms = Some(model_ms);
        if people_only {
            self.held = Some(drawn);
        }
        None
    }
}

async fn sleep_until_option(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// A failure that says something about the provider, not about this photo.
fn counts_against(e: &ProviderError) -> bool {
    !matches!(e, ProviderError::Refused(_))
}

pub fn unavailable(reason: SlotUnavailable) -> AppError {
    match reason {
        SlotUnavailable::Disabled => AppError::SlotDisabled,
        SlotUnavailable::MissingReference => {
            AppError::SlotNotConfigured("this slot's type needs a reference image".into())
        }
        SlotUnavailable::MissingPrompt => {
            AppError::SlotNotConfigured("this slot's type needs a prompt".into())
        }
    }
}

impl Chain<'_> {
    /// Starts one slot's model, or records why it could not start.
    async fn start(&mut self, candidate: Candidate, more: bool) -> Result<Running, AppError> {
        let (job, id) = (self.job, candidate.slot.id);
        let index = job.attempts.begin(id, job.elapsed_ms());
        let refuse = |outcome: Outcome, error: AppError| {
            job.attempts
                .end(index, job.elapsed_ms(), outcome, Some(&error));
            Err(error)
        };
        // Under a fire drill the call fails at once, unsent, and costs the provider no health.
        if self
            .state
            .drills
            .is_on(id.provider, self.state.clock.now_ms())
        {
            job.drill.store(true, std::sync::atomic::Ordering::Relaxed);
            let drilled = format!(
                "fire drill: {} answers as overloaded",
                id.provider.display_name()
            );
            return refuse(
                Outcome::Failed,
                AppError::Provider(ProviderError::Transient(drilled)),
            );
        }
        // A provider that is down is passed over while another slot can take the photo; the
        // last slot of the chain is tried all the same.
        if more && self.state.health.admit(id.provider) == Admission::Skip {
            let down = format!(
                "{} is down; its slots hand over",
                id.provider.display_name()
            );
            return refuse(
                Outcome::Skipped,
                AppError::Provider(ProviderError::Transient(down)),
            );
        }
        let state = self.state;
        let rule = candidate.slot.people_rule();
        if self.settings.check_results {
            self.guest.prepare_for(state, rule);
        }
        self.last_started = Some(candidate.clone());
        let model = match providers::model_for(
            id.provider,
            self.settings,
            state.demo,
            &state.cpu,
            &state.http,
        ) {
            Ok(model) => model,
            Err(e) => return refuse(Outcome::Failed, AppError::ProviderNotConfigured(e)),
        };
        let request = match self.request_for(candidate, model.as_ref(), more).await {
            Ok(request) => request,
            Err(e) => return refuse(Outcome::Failed, e),
        };
        Ok(Box::pin(async move {
            let result = model.generate(request).await;
            Answered {
                index,
                slot: id,
                rule,
                result,
            }
        }))
    }

    /// Everything a slot's model gets: the prepared photo, the slot's own kind, prompt,
    /// options and reference, published by link for a model that fetches its inputs.
    async fn request_for(
        &mut self,
        candidate: Candidate,
        model: &dyn ImageModel,
        more: bool,
    ) -> Result<ModelRequest, AppError> {
        let Candidate { slot, prompt } = candidate;
        let mut photo = self.prepared.photo.clone();
        let mut reference = inputs::reference_image(self.state, &slot).await?;
        if model.needs_public_links() {
            inputs::publish(
                self.state,
                self.settings,
                &self.job.id,
                slot.id,
                &mut photo,
                reference.as_mut(),
            )
            .await?;
        }
        Ok(ModelRequest {
            kind: slot.kind,
            prompt,
            options: slot.options,
            photo,
            reference,
            upload_size: self.prepared.upload_size,
            result_side: self.prepared.result_side,
            deadline: self.job.model_deadline(),
            // A slot with somewhere to hand over to does not spend the deadline on retries.
            may_retry: !more,
        })
    }
}
