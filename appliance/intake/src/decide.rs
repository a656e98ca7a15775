//! One decision for a new case: its type, priority, sensitivity, queue and owning consulate,
//! from what the form or channel gave.

use crate::lexicon::{Assessment, Classification, Lexicon};
use crate::model::{Family, Priority, Sensitivity, TypeCode};
use crate::routing::{Circumscriptions, ConsulateId, RouteBasis};
use crate::taxonomy::Taxonomy;

#[cfg(test)]
mod tests;

/// The priority of a case whose type is not known yet (it waits in triage).
pub const UNTYPED_PRIORITY: Priority = Priority::P3;

/// What intake knows about a new request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The type the citizen picked on the form; `None` for channels without a form.
    pub declared_type: Option<&'a str>,
    /// A priority set by staff (e.g. an agent logging a call); never lowers the type's default.
    pub declared_priority: Option<Priority>,
    /// Everything free-text: subject, description, message body.
    pub text: &'a str,
    /// Country of residence, ISO 3166-1 alpha-2.
    pub country: &'a str,
    /// City of residence, free text; may be empty.
    pub city: &'a str,
}

/// Which queue a new case lands in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    /// P0/P1: the duty officer is told at once (an outbox event).
    Emergency,
    /// The type is not known with enough confidence: a person picks it.
    Triage,
    /// The owning consulate's ordinary queue.
    Standard,
}

/// Intake's decision for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// `None` when the case waits in triage for a person to type it.
    pub case_type: Option<TypeCode>,
    pub family: Option<Family>,
    pub priority: Priority,
    pub sensitivity: Sensitivity,
    pub queue: Queue,
    pub consulate: ConsulateId,
    pub route_basis: RouteBasis,
    pub taxonomy_version: u32,
    /// The classifier's answer, when the type came from text rather than the form.
    pub classification: Option<Classification>,
    /// The emergency check of the text.
    pub assessment: Assessment,
}

impl Decision {
    /// True when the duty officer must be told (the case is in the emergency queue).
    pub fn is_emergency(&self) -> bool {
        self.queue == Queue::Emergency
    }
}

/// The taxonomy, the lexicon and the circumscription table, loaded together.
#[derive(Debug, Clone)]
pub struct Intake {
    taxonomy: Taxonomy,
    lexicon: Lexicon,
    circumscriptions: Circumscriptions,
}

impl Intake {
    /// Bundles loaded data. `lexicon` must have been loaded against `taxonomy`.
    pub fn new(taxonomy: Taxonomy, lexicon: Lexicon, circumscriptions: Circumscriptions) -> Self {
        Self {
            taxonomy,
            lexicon,
            circumscriptions,
        }
    }

    /// The data shipped with this build: taxonomy v1, lexicon v1, the demo circumscriptions.
    pub fn default_v1() -> Self {
        Self::new(
            Taxonomy::default_v1(),
            Lexicon::default_v1(),
            Circumscriptions::default_demo(),
        )
    }

    pub fn taxonomy(&self) -> &Taxonomy {
        &self.taxonomy
    }

    pub fn lexicon(&self) -> &Lexicon {
        &self.lexicon
    }

    pub fn circumscriptions(&self) -> &Circumscriptions {
        &self.circumscriptions
    }

    /// Decides type, priority, sensitivity, queue and owner.
    ///
    /// The declared type wins when the taxonomy knows it; otherwise the classifier's, when
    /// confident. The priority is the most urgent of the type's default, the declared priority
    /// and the emergency words; the sensitivity the strictest of the type's and the emergency
    /// words'. P0 and P1 go to the emergency queue, an untyped case to triage.
    pub fn decide(&self, request: &Request<'_>) -> Decision {
        let declared = request
            .declared_type
            .and_then(|code| self.taxonomy.lookup(code));
        let (case_type, classification) = match declared {
            Some(t) => (Some(t), None),
            None => {
                let c = self.lexicon.classify(request.text);
                let t = if c.triage {
                    None
                } else {
                    c.type_code
                        .as_ref()
                        .and_then(|code| self.taxonomy.get(code))
                };
                (t, Some(c))
            }
        };
        let base = case_type.map_or(UNTYPED_PRIORITY, |t| t.priority);
        let base = match request.declared_priority {
            Some(p) => base.most_urgent(p),
            None => base,
        };
        let assessment = self.lexicon.assess(request.text, base);
        let type_sensitivity = case_type.map_or(Sensitivity::Normal, |t| t.sensitivity);
        let sensitivity =
            type_sensitivity.max(assessment.sensitivity.unwrap_or(Sensitivity::Normal));
        let priority = assessment.priority;
        let queue = if priority <= Priority::P1 {
            Queue::Emergency
        } else if case_type.is_none() {
            Queue::Triage
        } else {
            Queue::Standard
        };
        let route = self.circumscriptions.resolve(request.country, request.city);
        Decision {
            case_type: case_type.map(|t| t.code.clone()),
            family: case_type.map(|t| t.family),
            priority,
            sensitivity,
            queue,
            consulate: route.consulate.id.clone(),
            route_basis: route.basis,
            taxonomy_version: self.taxonomy.version(),
            classification,
            assessment,
        }
    }
}
