-- A passkey's name, chosen by its owner on the account page ("Work laptop").
ALTER TABLE webauthn_credentials ADD COLUMN name TEXT NOT NULL DEFAULT '';
