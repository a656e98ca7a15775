//! Demo accounts, cases and articles for `legatura up`: one account per role, Paris and
//! Berlin officers for the path-binding rule, a few cases of each sensitivity, and articles
//! in Romanian and English. Passwords and TOTP secrets are random and shown once.

use casestore::{
    Actor, AgentId, Body, CaseType, Channel, ConsulateId, ContactKind, ContactValue, CountryCode,
    Family, Language, Name, NewArticle, NewCase, NewContact, NewPerson, NewStaff, PasswordHash,
    Priority, Sensitivity, Slug, StaffRole, Store, Title, Topic, TypeCode, Verification,
};
use staffauth::TotpSecret;

/// A demo account as shown to the person running the demo.
#[derive(Debug, Clone)]
pub struct DemoAccount {
    pub id: String,
    pub role: StaffRole,
    pub consulate: String,
    pub password: String,
    /// For an authenticator app (or `staffauth::totp_code` in tests).
    pub otpauth: String,
    pub totp: Vec<u8>,
}

/// Why seeding failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo data")]
    Invalid(#[from] casestore::InvalidValue),
    #[error("demo data")]
    Write(#[from] casestore::WriteError),
    #[error("demo data")]
    Read(#[from] casestore::ReadError),
    #[error("demo data")]
    Auth(#[from] staffauth::AuthError),
    #[error("demo data")]
    Staff(#[from] casestore::StaffError),
    #[error("demo data")]
    Article(#[from] casestore::ArticleError),
    #[error("demo data: the system random number generator failed")]
    Random,
}

/// 20 random characters from an alphabet without look-alikes (about 115 bits).
fn random_password() -> Result<String, DemoError> {
    use ring::rand::SecureRandom as _;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 20];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| DemoError::Random)?;
    Ok(bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect())
}

/// (id, display name, role, consulate, languages)
const ACCOUNTS: &[(&str, &str, StaffRole, &str, &[&str])] = &[
    (
        "op.ionescu",
        "Ioana Ionescu",
        StaffRole::Operator,
        "ro-ccscrs",
        &["ro", "en"],
    ),
    (
        "sup.georgescu",
        "Mihai Georgescu",
        StaffRole::Supervisor,
        "ro-ccscrs",
        &["ro", "en", "fr"],
    ),
    (
        "adm.stan",
        "Elena Stan",
        StaffRole::Administrator,
        "ro-ccscrs",
        &["ro", "en"],
    ),
    (
        "off.popescu",
        "Andrei Popescu",
        StaffRole::Officer,
        "ro-emb-paris",
        &["ro", "fr"],
    ),
    (
        "cons.dumitru",
        "Maria Dumitru",
        StaffRole::Consul,
        "ro-emb-paris",
        &["ro", "fr", "en"],
    ),
    (
        "off.weber",
        "Radu Weber",
        StaffRole::Officer,
        "ro-emb-berlin",
        &["ro", "de"],
    ),
];

/// Creates the demo accounts (those not already there) and returns their credentials.
/// Accounts that exist keep their credentials and are not returned.
pub fn seed_accounts(store: &Store, issuer: &str) -> Result<Vec<DemoAccount>, DemoError> {
    let mut out = Vec::new();
    for &(id, name, role, consulate, languages) in ACCOUNTS {
        let agent = AgentId::new(id)?;
        if store.staff(&agent)?.is_some() {
            continue;
        }
        let password = random_password()?;
        let secret = TotpSecret::generate().map_err(|_| DemoError::Random)?;
        store.create_staff(&NewStaff {
            id: agent,
            display_name: Name::new(name)?,
            role,
            consulate: ConsulateId::new(consulate)?,
            languages: languages
                .iter()
                .map(|l| Language::new(*l))
                .collect::<Result<_, _>>()?,
            password_phc: PasswordHash::new(staffauth::hash_password(&password)?)?,
            totp_secret: Some(casestore::TotpSecret::new(secret.as_bytes().to_vec())?),
        })?;
        out.push(DemoAccount {
            id: id.to_owned(),
            role,
            consulate: consulate.to_owned(),
            password,
            otpauth: secret.otpauth_uri(issuer, id),
            totp: secret.as_bytes().to_vec(),
        });
    }
    Ok(out)
}

/// (type, family, priority, sensitivity, consulate, language, family name, given, e-mail, text)
type DemoCase = (
    &'static str,
    Family,
    Priority,
    Sensitivity,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

const CASES: &[DemoCase] = &[
    (
        "A1.1",
        Family::Service,
        Priority::P3,
        Sensitivity::Normal,
        "ro-emb-paris",
        "ro",
        "Marin",
        "Ana",
        "ana.marin@example.org",
        "Bună ziua, pașaportul meu expiră luna viitoare. Ce documente trebuie să aduc?",
    ),
    (
        "C3",
        Family::Protection,
        Priority::P1,
        Sensitivity::Sensitive,
        "ro-emb-paris",
        "ro",
        "Vasile",
        "Ion",
        "ion.vasile@example.org",
        "Tatăl meu a avut un accident la Lyon și este internat. Avem nevoie de ajutor.",
    ),
    (
        "C1",
        Family::Protection,
        Priority::P1,
        Sensitivity::Restricted,
        "ro-emb-paris",
        "en",
        "Toma",
        "Dan",
        "dan.toma@example.org",
        "My brother was arrested in Paris last night and we do not know where he is held.",
    ),
    (
        "A1.1",
        Family::Service,
        Priority::P3,
        Sensitivity::Normal,
        "ro-emb-berlin",
        "ro",
        "Neagu",
        "Irina",
        "irina.neagu@example.org",
        "Aș dori o programare pentru pașaport la Berlin.",
    ),
    (
        "D1",
        Family::Info,
        Priority::P4,
        Sensitivity::Normal,
        "ro-emb-paris",
        "en",
        "Marin",
        "Ana",
        "ana.marin@example.org",
        "Which documents do I need to register my child's birth?",
    ),
];

/// Adds the demo cases when the store has none.
pub fn seed_cases(store: &Store) -> Result<usize, DemoError> {
    if !store.consulates()?.is_empty() {
        return Ok(0);
    }
    for &(code, family, priority, sensitivity, consulate, language, last, first, email, text) in
        CASES
    {
        store.create_case(&NewCase {
            idempotency_key: None,
            case_type: CaseType {
                code: TypeCode::new(code)?,
                subtype: None,
                taxonomy_version: 1,
                family,
            },
            priority,
            sensitivity,
            consulate: ConsulateId::new(consulate)?,
            channel: Channel::Web,
            language: Language::new(language)?,
            needs_triage: false,
            subject: NewPerson {
                family_name: Name::new(last)?,
                given_names: Name::new(first)?,
                birth_date: None,
                contacts: vec![NewContact {
                    kind: ContactKind::Email,
                    value: ContactValue::new(email)?,
                    verification: Verification::Verified,
                }],
                identifiers: Vec::new(),
            },
            requester: None,
            author: Actor::Citizen,
            body: Body::new(text)?,
            attachments: Vec::new(),
        })?;
    }
    Ok(CASES.len())
}

/// (slug, language, country, topic, title, body, public)
const ARTICLES: &[(&str, &str, &str, &str, &str, &str, bool)] = &[
    (
        "passport-renewal",
        "ro",
        "",
        "passports",
        "Reînnoirea pașaportului",
        "Pentru un pașaport nou aveți nevoie de cartea de identitate sau pașaportul vechi, o programare la consulat și taxa consulară. Minorii vin însoțiți de ambii părinți.",
        true,
    ),
    (
        "passport-renewal",
        "en",
        "",
        "passports",
        "Renewing a passport",
        "For a new passport bring your identity card or old passport, book an appointment at the consulate and pay the consular fee. Minors come with both parents.",
        true,
    ),
    (
        "detention-first-steps",
        "en",
        "",
        "protection",
        "Detention: first steps for staff",
        "Confirm identity and place of detention with the local authorities, inform the family only with the detainee's consent, and record every contact in the case.",
        false,
    ),
    (
        "birth-registration",
        "ro",
        "FR",
        "civil_status",
        "Transcrierea certificatului de naștere (Franța)",
        "Certificatul de naștere francez se transcrie la consulat cu traducere legalizată; ambii părinți semnează cererea.",
        true,
    ),
];

/// Adds the demo articles that are not there yet.
pub fn seed_articles(store: &Store) -> Result<usize, DemoError> {
    let mut added = 0;
    for &(slug, language, country, topic, title, body, public) in ARTICLES {
        let language = Language::new(language)?;
        let slug = Slug::new(slug)?;
        if store.article_by_slug(&slug, &language)?.is_some() {
            continue;
        }
        store.put_article(
            &NewArticle {
                slug,
                language,
                country: if country.is_empty() {
                    None
                } else {
                    Some(CountryCode::new(country)?)
                },
                topic: Topic::new(topic)?,
                title: Title::new(title)?,
                body: Body::new(body)?,
                public,
            },
            &Actor::System,
            None,
        )?;
        added += 1;
    }
    Ok(added)
}
