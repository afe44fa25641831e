//! The booth slot and its fallbacks inside one deadline. The next slot starts at once when the
//! current one fails for a provider-side reason, and — hedging — also when the current one has
//! not answered after the booth slot's `fallback_after_secs`; the first image wins and the
//! others are dropped (their HTTP calls cancelled, a Turbotext queue no longer polled). A
//! fallback's own fallbacks are not followed, so no cycle can form.

use super::inputs;
use super::job::Job;
use crate::AppState;
use crate::alerts::Event;
use crate::config::Settings;
use crate::domain::{AttemptOutcome as Outcome, Provider, Slot, SlotId, SlotUnavailable};
use crate::error::AppError;
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
}

/// A slot to try, with its prompt filled from the booth's values.
struct Candidate {
    slot: Slot,
    prompt: String,
}

/// The slot that drew the image, and what it drew.
pub struct Drawn {
    pub slot: SlotId,
    pub output: ModelOutput,
    pub model_ms: i64,
}

type Running =
    Pin<Box<dyn Future<Output = (usize, SlotId, Result<ModelOutput, ProviderError>)> + Send>>;

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
    };
    chain.start_next().await;
    loop {
        if chain.running.is_empty() {
            return Err(chain.last_error.unwrap_or(AppError::SlotDisabled));
        }
        tokio::select! {
            Some((index, slot, result)) = chain.running.next() => {
                match chain.ended(index, slot, result) {
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
        }
    }
}

impl Chain<'_> {
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

    /// Records an attempt's end; the image, if it drew one.
    fn ended(
        &mut self,
        index: usize,
        slot: SlotId,
        result: Result<ModelOutput, ProviderError>,
    ) -> Option<Drawn> {
        let job = self.job;
        let at = job.elapsed_ms();
        match result {
            Ok(output) => {
                job.attempts.end(index, at, Outcome::Succeeded, None);
                let change = self.state.health.record(slot.provider, Ok(()));
                self.tell(slot.provider, change, None);
                let model_ms = at - job.attempts.started_ms(index);
                // The others are dropped with the chain: abandoned.
                Some(Drawn {
                    slot,
                    output,
                    model_ms,
                })
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
                job.attempts.end(index, at, outcome, Some(&error));
                tracing::warn!(%slot, reason = error.reason(), %error, "slot failed");
                self.last_error = Some(error);
                None
            }
        }
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
            (index, id, result)
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
