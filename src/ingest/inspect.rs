//! A model's image looked at before the booth gets it: decoded once (the fit to the upload
//! reuses the decode), then checked against the guest's photo by the slot's rule. The guest's
//! faces are counted once per job, on the pool while the model works, and only for a slot
//! whose rule compares counts.

use crate::AppState;
use crate::checks::{self, Check, PeopleRule, faces};
use crate::imaging::{self, Decoded, Glance, ImagingError, Turn};
use std::sync::Arc;
use tokio::task::JoinHandle;

/// The guest's photo as the checks see it.
pub struct Guest {
    glance: Arc<Glance>,
    faces: Faces,
}

enum Faces {
    NotCounted,
    Counting(JoinHandle<Option<u32>>),
    Counted(Option<u32>),
}

/// An image decoded, and what the checks made of it (`None` with the checks off).
pub struct Looked {
    pub decoded: Decoded,
    pub check: Option<Check>,
}

impl Guest {
    pub fn new(glance: Arc<Glance>) -> Guest {
        Guest {
            glance,
            faces: Faces::NotCounted,
        }
    }

    /// Starts counting the guest's faces, once, if `rule` will compare counts.
    pub fn prepare_for(&mut self, state: &AppState, rule: PeopleRule) {
        if rule != PeopleRule::AsManyAsGuest || !matches!(self.faces, Faces::NotCounted) {
            return;
        }
        let (cpu, glance) = (state.cpu.clone(), self.glance.clone());
        self.faces = Faces::Counting(tokio::spawn(async move {
            cpu.run(Turn::Start, move || Ok(faces::count(&glance)))
                .await
                .ok()
        }));
    }

    async fn faces(&mut self) -> Option<u32> {
        if let Faces::Counting(counting) = &mut self.faces {
            self.faces = Faces::Counted(counting.await.ok().flatten());
        }
        match self.faces {
            Faces::Counted(count) => count,
            _ => None,
        }
    }

    /// Decodes a model's image for the answer's size and, with `rule` (`None`: checks off),
    /// checks it.
    pub async fn look(
        &mut self,
        state: &AppState,
        image: Vec<u8>,
        answer: (u32, u32),
        max_side: u32,
        rule: Option<PeopleRule>,
    ) -> Result<Looked, ImagingError> {
        let faces_in = match rule {
            Some(PeopleRule::AsManyAsGuest) => self.faces().await,
            _ => None,
        };
        let guest = self.glance.clone();
        state
            .cpu
            .run(Turn::Finish, move || {
                let decoded = imaging::decode_answer(&image, answer, max_side)?;
                drop(image);
                let check = match rule {
                    Some(rule) => {
                        let closer = || decoded.closer_glance().ok();
                        let result = decoded.glance()?;
                        Some(checks::judge(&guest, faces_in, &result, rule, closer))
                    }
                    None => None,
                };
                Ok(Looked { decoded, check })
            })
            .await
    }
}
