//! The corpus's vocabulary: consulates, request types, topic sentences in Romanian and
//! English, names. Romanian text is written with comma-below ș/ț, as it should be; corpus.rs
//! derives the cedilla and bare spellings from it.

use casestore::{Family, Priority, Relationship};

/// (id, city, weight).
pub(crate) const CONSULATES: &[(&str, &str, u32)] = &[
    ("RO-PAR", "Paris", 10),
    ("RO-LYO", "Lyon", 3),
    ("RO-LON", "Londra", 12),
    ("RO-MAN", "Manchester", 4),
    ("RO-MAD", "Madrid", 9),
    ("RO-BCN", "Barcelona", 4),
    ("RO-ROM", "Roma", 10),
    ("RO-MIL", "Milano", 6),
    ("RO-TUR", "Torino", 4),
    ("RO-BER", "Berlin", 7),
    ("RO-MUN", "München", 5),
    ("RO-STU", "Stuttgart", 3),
    ("RO-VIE", "Viena", 5),
    ("RO-BRU", "Bruxelles", 4),
    ("RO-DUB", "Dublin", 3),
    ("RO-LIS", "Lisabona", 2),
    ("RO-ATH", "Atena", 2),
    ("RO-CHI", "Chișinău", 4),
    ("RO-NYC", "New York", 2),
    ("RO-TOR", "Toronto", 2),
];

/// Agents per consulate.
pub(crate) const AGENTS: u64 = 8;

/// (code, family, priority, weight, topic).
pub(super) const TYPES: &[(&str, Family, Priority, u32, usize)] = &[
    ("A1.1", Family::Service, Priority::P3, 140, 0),
    ("A1.3", Family::Service, Priority::P2, 30, 0),
    ("A1.4", Family::Service, Priority::P2, 40, 0),
    ("A2.1", Family::Service, Priority::P3, 60, 1),
    ("A3.1", Family::Service, Priority::P3, 60, 1),
    ("A3.5", Family::Service, Priority::P3, 25, 1),
    ("A4.1", Family::Service, Priority::P3, 70, 2),
    ("A5.1", Family::Service, Priority::P3, 30, 3),
    ("A6.1", Family::Service, Priority::P3, 40, 3),
    ("A7.1", Family::Service, Priority::P3, 30, 4),
    ("B1", Family::Assistance, Priority::P4, 40, 5),
    ("B2", Family::Assistance, Priority::P3, 25, 5),
    ("B5", Family::Assistance, Priority::P2, 10, 6),
    ("B6", Family::Assistance, Priority::P2, 8, 6),
    ("C1", Family::Protection, Priority::P1, 10, 7),
    ("C2", Family::Protection, Priority::P1, 6, 8),
    ("C3", Family::Protection, Priority::P0, 8, 9),
    ("C4", Family::Protection, Priority::P1, 6, 10),
    ("C5", Family::Protection, Priority::P0, 4, 11),
    ("C6", Family::Protection, Priority::P1, 3, 12),
    ("D1", Family::Info, Priority::P4, 150, 13),
    ("D3", Family::Info, Priority::P4, 40, 13),
    ("D4", Family::Info, Priority::P4, 60, 14),
    ("E", Family::Complaint, Priority::P3, 15, 15),
];

/// Per topic: Romanian sentences, then English ones. `{c}` is the city, `{n}` a number,
/// `{d}` a date, `{r}` a relative.
pub(super) const TOPICS: &[(&[&str], &[&str])] = &[
    (
        &[
            "Doresc să îmi reînnoiesc pașaportul care expiră pe {d}.",
            "Mi-am pierdut pașaportul în {c} și am nevoie de un titlu de călătorie urgent.",
            "Pașaportul copilului meu a expirat, ce documente trebuie să aduc?",
        ],
        &[
            "I need to renew my passport, which expires on {d}.",
            "My passport was stolen in {c} and I fly home next week.",
            "What documents do I need for my child's passport?",
        ],
    ),
    (
        &[
            "Vreau să transcriu certificatul de naștere al fiicei mele, născută în {c}.",
            "Am nevoie de un duplicat după certificatul de căsătorie.",
            "Doresc să îmi stabilesc domiciliul în străinătate, la {c}.",
        ],
        &[
            "I would like to register my daughter's birth certificate issued in {c}.",
            "I need a copy of my Romanian marriage certificate.",
        ],
    ),
    (
        &[
            "Am nevoie de o procură pentru vânzarea unui apartament în România.",
            "Pot da o declarație notarială la consulat pe {d}?",
        ],
        &[
            "I need a power of attorney to sell a flat in Romania.",
            "Can I sign a notarised declaration at the consulate on {d}?",
        ],
    ),
    (
        &[
            "Am depus dosarul de cetățenie cu numărul {n} și nu am primit răspuns.",
            "Am nevoie de cazierul judiciar pentru un angajator din {c}.",
        ],
        &[
            "I applied for citizenship, file number {n}, and have had no answer.",
            "My employer in {c} asks for a criminal record certificate.",
        ],
    ),
    (
        &[
            "Unde pot vota în {c} la alegerile din {d}?",
            "Vreau să mă înscriu pentru votul prin corespondență.",
        ],
        &["Where is the polling station in {c} for the election on {d}?"],
    ),
    (
        &[
            "Angajatorul nu mi-a plătit salariul de trei luni și am nevoie de ajutor.",
            "Aveți o listă de avocați care vorbesc română în {c}?",
        ],
        &[
            "My employer has not paid me for three months and I need help.",
            "Do you have a list of Romanian-speaking lawyers in {c}?",
        ],
    ),
    (
        &["Am rămas fără bani și fără locuință în {c}, vă rog să mă ajutați să mă întorc acasă."],
        &["I have no money and nowhere to stay in {c}; please help me get home."],
    ),
    (
        &[
            "{r} a fost arestat ieri în {c} și nu știm unde este reținut.",
            "Fiul meu este în arest preventiv și are nevoie de un avocat.",
        ],
        &["My {r} was arrested yesterday in {c} and we do not know where he is held."],
    ),
    (
        &[
            "{r} a decedat în {c} și dorim repatrierea trupului în România.",
            "Avem nevoie de ajutor pentru transportul sicriului.",
        ],
        &["My {r} died in {c} and we want to bring the body home to Romania."],
    ),
    (
        &[
            "{r} a avut un accident grav și este internat la spital în {c}, în stare critică.",
            "Mama mea este la terapie intensivă la spitalul din {c}.",
        ],
        &["My {r} had a serious accident and is in hospital in {c}, in critical condition."],
    ),
    (
        &["Am fost victima unui furt cu violență în {c}, poliția are dosarul {n}."],
        &["I was robbed and assaulted in {c}; the police reference is {n}."],
    ),
    (
        &[
            "{r} a dispărut de pe {d} în {c}, telefonul este închis.",
            "Nu avem vești de la fiica noastră de o săptămână.",
        ],
        &["My {r} has been missing since {d} in {c}; the phone is off."],
    ),
    (
        &["Ne-au luat pașapoartele la fermă și nu ne lasă să plecăm, suntem zece români."],
        &["They took our passports at the farm and will not let us leave."],
    ),
    (
        &[
            "Care este programul consulatului din {c}?",
            "Cât costă eliberarea unui pașaport și ce documente sunt necesare?",
            "Cum fac o programare pe econsulat?",
        ],
        &[
            "What are the consulate's opening hours in {c}?",
            "How much does a passport cost and which documents are required?",
        ],
    ),
    (
        &[
            "Care este stadiul cererii mele cu numărul {n}?",
            "Am depus documentele pe {d} și aștept răspuns.",
        ],
        &[
            "What is the status of my application {n}?",
            "I sent the documents on {d} and am still waiting.",
        ],
    ),
    (
        &["Vreau să fac o reclamație: nimeni nu răspunde la telefon la consulatul din {c}."],
        &["I want to complain: nobody answers the phone at the consulate in {c}."],
    ),
];

pub(super) const RO_OPEN: &[&str] = &[
    "Bună ziua,",
    "Stimată doamnă, stimate domn,",
    "Bună seara,",
    "Vă rog frumos să mă ajutați.",
];
pub(super) const RO_MORE: &[&str] = &[
    "Vă mulțumesc anticipat pentru răspuns.",
    "Am atașat documentele pe care le am.",
    "Locuiesc în {c} de cinci ani și lucrez în construcții.",
    "Vă rog să îmi spuneți ce pași trebuie să urmez.",
    "Nu vorbesc bine limba țării și nu știu la cine să apelez.",
    "Puteți să mă sunați oricând, și seara.",
    "Am încercat să sun la consulat dar nu a răspuns nimeni.",
    "Este foarte important pentru familia noastră.",
];
pub(super) const EN_OPEN: &[&str] = &["Hello,", "Dear Sir or Madam,", "Good afternoon,"];
pub(super) const EN_MORE: &[&str] = &[
    "Thank you in advance for your help.",
    "I have attached the documents I have.",
    "I have lived in {c} for five years.",
    "Please tell me what I should do next.",
    "You can call me at any time.",
    "I tried calling the consulate but nobody answered.",
];
pub(super) const FAMILY: &[&str] = &[
    "Popescu",
    "Ionescu",
    "Ștefănescu",
    "Țurcanu",
    "Dumitrașcu",
    "Mureșan",
    "Răducanu",
    "Bălan",
    "Constantinescu",
    "Georgescu",
    "Stănescu",
    "Munteanu",
    "Oprea",
    "Lupașcu",
    "Șerban",
    "Vlădescu",
];
pub(super) const GIVEN: &[&str] = &[
    "Ana",
    "Maria",
    "Ioana",
    "Elena",
    "Ștefan",
    "Mihai",
    "Andrei",
    "Răzvan",
    "Alexandru",
    "Cristina",
    "Gheorghe",
    "Ionuț",
    "Florin",
    "Mădălina",
    "Bogdan",
    "Ținca",
];
pub(super) const RELATIVES: &[(&str, &str, Relationship)] = &[
    ("Fratele meu", "brother", Relationship::Sibling),
    ("Soțul meu", "husband", Relationship::Spouse),
    ("Fiul meu", "son", Relationship::Child),
    ("Tatăl meu", "father", Relationship::Parent),
    ("Prietenul meu", "friend", Relationship::Friend),
];
