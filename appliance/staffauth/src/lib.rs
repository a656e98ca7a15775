//! Staff sign-in: argon2id passwords, TOTP second factor, lockout, sessions bound to their access path, CSRF tokens.
