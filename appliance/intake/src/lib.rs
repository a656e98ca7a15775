//! Intake: classification and routing of new consular cases (work in progress).
