// Conversions between Gatehouse's WebAuthn options and results in JSON
// form (binary values as unpadded base64url, as go-webauthn writes and
// reads them) and the ArrayBuffers navigator.credentials works with.

import { isObject } from "./errors.js";

/** Decodes unpadded (or padded) base64url. */
export function fromBase64url(s: string): ArrayBuffer {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
  const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out.buffer;
}

/** Encodes bytes as unpadded base64url. */
export function toBase64url(buf: ArrayBuffer | ArrayBufferView): string {
  const bytes = buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

type JSONObject = Record<string, unknown>;

function descriptors(v: unknown): PublicKeyCredentialDescriptor[] | undefined {
  if (!Array.isArray(v)) return undefined;
  return v.filter(isObject).map((d) => ({ ...(d as JSONObject), type: "public-key", id: fromBase64url(String(d["id"])) }) as PublicKeyCredentialDescriptor);
}

function required(o: JSONObject, key: string): string {
  const v = o[key];
  if (typeof v !== "string") throw new TypeError(`WebAuthn options: ${key} missing`);
  return v;
}

/** PublicKeyCredentialCreationOptions from their JSON form (POST /auth/mfa/webauthn/options). */
export function creationOptionsFromJSON(json: unknown): PublicKeyCredentialCreationOptions {
  if (!isObject(json) || !isObject(json["user"])) throw new TypeError("WebAuthn creation options: not an object with a user");
  const user = json["user"];
  const exclude = descriptors(json["excludeCredentials"]);
  return {
    ...(json as object),
    challenge: fromBase64url(required(json, "challenge")),
    user: { ...(user as object), id: fromBase64url(required(user, "id")) } as PublicKeyCredentialUserEntity,
    ...(exclude ? { excludeCredentials: exclude } : {}),
  } as PublicKeyCredentialCreationOptions;
}

/** PublicKeyCredentialRequestOptions from their JSON form (POST /auth/login/webauthn/options). */
export function requestOptionsFromJSON(json: unknown): PublicKeyCredentialRequestOptions {
  if (!isObject(json)) throw new TypeError("WebAuthn request options: not an object");
  const allow = descriptors(json["allowCredentials"]);
  return {
    ...(json as object),
    challenge: fromBase64url(required(json, "challenge")),
    ...(allow ? { allowCredentials: allow } : {}),
  } as PublicKeyCredentialRequestOptions;
}

/** The JSON form of a new credential or an assertion, as Gatehouse expects it. */
export function credentialToJSON(cred: PublicKeyCredential): JSONObject {
  const r = cred.response;
  const response: JSONObject = { clientDataJSON: toBase64url(r.clientDataJSON) };
  if ("attestationObject" in r) {
    const a = r as AuthenticatorAttestationResponse;
    response["attestationObject"] = toBase64url(a.attestationObject);
    if (typeof a.getTransports === "function") response["transports"] = a.getTransports();
  } else {
    const a = r as AuthenticatorAssertionResponse;
    response["authenticatorData"] = toBase64url(a.authenticatorData);
    response["signature"] = toBase64url(a.signature);
    if (a.userHandle) response["userHandle"] = toBase64url(a.userHandle);
  }
  return {
    id: cred.id,
    rawId: toBase64url(cred.rawId),
    type: cred.type,
    response,
    clientExtensionResults: cred.getClientExtensionResults(),
    ...(cred.authenticatorAttachment ? { authenticatorAttachment: cred.authenticatorAttachment } : {}),
  };
}
