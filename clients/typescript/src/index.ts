export { Gatehouse, MemoryTokenStore, readCookie } from "./session.js";
export type { GatehouseOptions, Me, MFAMethod, SessionEndReason, StepUp, SessionInfo, SignInResult, TokenStore, Tokens, User, WebAuthnCredential } from "./session.js";
export { GatehouseError, isGatehouseError } from "./errors.js";
export type { ClientErrorCode, ErrorCode } from "./errors.js";
export { creationOptionsFromJSON, credentialToJSON, fromBase64url, requestOptionsFromJSON, toBase64url } from "./webauthn.js";
export type { components, paths } from "./generated/api.js";
