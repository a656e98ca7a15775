//! Synthetic consular cases, generated deterministically from a seed: 20 consulates weighted
//! like the Romanian diaspora, the taxonomy's types with their families and priorities,
//! Romanian (70 %) and English requests built from topic sentences, Romanian names with
//! diacritics, and the ways citizens actually type them: 60 % with comma-below ș/ț, 10 % with
//! the cedilla forms ş/ţ of older keyboards, 30 % with no diacritics at all.

mod data;

use anyhow::Result;
pub(crate) use data::{AGENTS, CONSULATES};
use data::{EN_MORE, EN_OPEN, FAMILY, GIVEN, RELATIVES, RO_MORE, RO_OPEN, TOPICS, TYPES};

use casestore::{
    Actor, AgentId, Body, CaseType, Channel, ConsulateId, ContactKind, ContactValue, Family,
    FileName, IdempotencyKey, ImportedCase, Language, MediaType, Name, NewAttachment, NewCase,
    NewContact, NewPerson, NewRequester, ScanVerdict, Sensitivity, Sha256, Status, Timestamp,
    TypeCode, Verification,
};

/// A SplitMix64 generator: small, fast, and the same on every machine.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// An index into `weights`, drawn in proportion to them.
    pub(crate) fn weighted(&mut self, weights: impl Iterator<Item = u32> + Clone) -> usize {
        let total: u64 = weights.clone().map(u64::from).sum();
        let mut x = self.next() % total;
        for (i, w) in weights.enumerate() {
            if x < u64::from(w) {
                return i;
            }
            x -= u64::from(w);
        }
        0
    }
}

/// Draws cases.
#[derive(Debug)]
pub(crate) struct Corpus {
    rng: Rng,
}

impl Corpus {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            rng: Rng::new(seed),
        }
    }

    /// The `i`-th case (the index only names keys, e-mail addresses and files).
    pub(crate) fn case(&mut self, i: u64) -> Result<NewCase> {
        let r = &mut self.rng;
        let (consulate, city, _) = CONSULATES[r.weighted(CONSULATES.iter().map(|c| c.2))];
        let (code, family, priority, _, topic) = TYPES[r.weighted(TYPES.iter().map(|t| t.3))];
        let english = r.chance(30);
        let (ro, en) = TOPICS[topic];
        let relative = r.pick(RELATIVES);
        let fill = |s: &str, r: &mut Rng| {
            s.replace("{c}", city)
                .replace(
                    "{n}",
                    &format!("{}/{}", 1000 + r.below(90_000), 2024 + r.below(3)),
                )
                .replace(
                    "{d}",
                    &format!("{:02}.{:02}.2026", 1 + r.below(28), 1 + r.below(12)),
                )
                .replace("{r}", if english { relative.1 } else { relative.0 })
        };
        let (open, topic_lines, more) = if english {
            (EN_OPEN, en, EN_MORE)
        } else {
            (RO_OPEN, ro, RO_MORE)
        };
        let (family_name, given) = (*r.pick(FAMILY), *r.pick(GIVEN));
        let mut body = String::with_capacity(512);
        let greeting = *r.pick(open);
        body.push_str(greeting);
        for _ in 0..1 + r.below(2) {
            body.push(' ');
            let line = *r.pick(topic_lines);
            body.push_str(&fill(line, r));
        }
        for _ in 0..1 + r.below(3) {
            body.push(' ');
            let line = *r.pick(more);
            body.push_str(&fill(line, r));
        }
        body.push_str(&format!("\n{given} {family_name}"));
        let body = match r.below(10) {
            0 => body
                .replace('ș', "ş")
                .replace('ț', "ţ")
                .replace('Ș', "Ş")
                .replace('Ț', "Ţ"),
            1..=3 => strip_diacritics(&body),
            _ => body,
        };
        let email = format!(
            "{}.{}{i}@example.ro",
            strip_diacritics(given).to_lowercase(),
            strip_diacritics(family_name).to_lowercase()
        );
        let mut contacts = vec![NewContact {
            kind: ContactKind::Email,
            value: ContactValue::new(email)?,
            verification: Verification::Unverified,
        }];
        if r.chance(50) {
            let phone = format!(
                "+40 7{:02} {:03} {:03}",
                r.below(100),
                r.below(1000),
                r.below(1000)
            );
            contacts.push(NewContact {
                kind: ContactKind::Phone,
                value: ContactValue::new(phone)?,
                verification: Verification::Pending,
            });
        }
        let subject = NewPerson {
            family_name: Name::new(family_name)?,
            given_names: Name::new(given)?,
            birth_date: None,
            contacts,
            identifiers: Vec::new(),
        };
        // Someone else writes for the detained, the dead, the injured, the victims, the missing.
        let requester = if (7..=11).contains(&topic) {
            Some(NewRequester {
                person: NewPerson {
                    family_name: Name::new(family_name)?,
                    given_names: Name::new(*r.pick(GIVEN))?,
                    birth_date: None,
                    contacts: Vec::new(),
                    identifiers: Vec::new(),
                },
                relationship: relative.2,
            })
        } else {
            None
        };
        let channel = [
            Channel::Web,
            Channel::Web,
            Channel::Web,
            Channel::Web,
            Channel::Web,
            Channel::Email,
            Channel::Email,
            Channel::Email,
            Channel::Phone,
            Channel::Chat,
        ][r.below(10)];
        let (media, ext) = *r.pick(&[
            ("application/pdf", "pdf"),
            ("image/jpeg", "jpg"),
            ("image/png", "png"),
        ]);
        Ok(NewCase {
            idempotency_key: Some(IdempotencyKey::new(format!("bench-{i}"))?),
            case_type: CaseType {
                code: TypeCode::new(code)?,
                subtype: None,
                taxonomy_version: 1,
                family,
            },
            priority,
            sensitivity: if family == Family::Protection {
                Sensitivity::Restricted
            } else {
                Sensitivity::Normal
            },
            consulate: ConsulateId::new(consulate)?,
            channel,
            language: Language::new(if english { "en" } else { "ro" })?,
            needs_triage: r.chance(5),
            subject,
            requester,
            author: if channel == Channel::Phone {
                Actor::Agent(AgentId::new(format!("{consulate}-0"))?)
            } else {
                Actor::Citizen
            },
            body: Body::new(body)?,
            attachments: vec![NewAttachment {
                sha256: Sha256::of(&i.to_le_bytes()),
                size: 40_000 + r.next() % 3_000_000,
                media_type: MediaType::new(media)?,
                file_name: FileName::sanitize(&format!("document_{i}.{ext}")),
                verdict: ScanVerdict::Clean,
            }],
        })
    }

    /// The `i`-th of `n` historical cases, received at `at`: old ones are nearly all closed,
    /// the most recent tenth is mostly open, in every open state, mostly assigned.
    pub(crate) fn imported(&mut self, i: u64, n: u64, at: Timestamp) -> Result<ImportedCase> {
        let case = self.case(i)?;
        let r = &mut self.rng;
        let recent = i * 10 >= n * 9;
        let open = r.chance(if recent { 70 } else { 6 });
        let status = if !open {
            if r.chance(30) {
                Status::Resolved
            } else {
                Status::Closed
            }
        } else {
            [
                Status::New,
                Status::New,
                Status::New,
                Status::Triage,
                Status::InProgress,
                Status::InProgress,
                Status::InProgress,
                Status::WaitingCitizen,
                Status::WaitingCitizen,
                Status::Referred,
            ][r.below(10)]
        };
        let assigned = match status {
            Status::New | Status::Triage => r.chance(10),
            _ => r.chance(90),
        };
        let assignee = match assigned {
            true => Some(AgentId::new(format!(
                "{}-{}",
                case.consulate,
                r.next() % AGENTS
            ))?),
            false => None,
        };
        Ok(ImportedCase {
            received_at: at,
            case,
            status,
            assignee,
        })
    }
}

/// The text as typed without diacritics.
pub(crate) fn strip_diacritics(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'ă' | 'â' => 'a',
            'Ă' | 'Â' => 'A',
            'î' => 'i',
            'Î' => 'I',
            'ș' | 'ş' => 's',
            'Ș' | 'Ş' => 'S',
            'ț' | 'ţ' => 't',
            'Ț' | 'Ţ' => 'T',
            'ü' => 'u',
            c => c,
        })
        .collect()
}
