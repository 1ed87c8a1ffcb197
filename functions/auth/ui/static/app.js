// Gatehouse hosted pages: submits the pages' forms to the Auth function's
// JSON routes in browser mode (cookies, X-CSRF-Token from the CSRF cookie)
// and runs the WebAuthn ceremonies. No framework, no inline handlers: every
// behaviour hangs off data- attributes in the server-rendered markup.
"use strict";
(function () {
  var body = document.body;
  var API = body.dataset.api, ROOT = body.dataset.root, OAUTH = body.dataset.oauth;
  var S = JSON.parse(document.getElementById("gh-strings").textContent);
  var pageToken = takeToken();
  var mfaToken = "";
  var pending = null; // the action to retry after a step-up

  // takeToken reads the one-time token from the fragment (#token=...) and
  // removes it from the address bar and history.
  function takeToken() {
    var m = /(?:^#|&)token=([A-Za-z0-9_-]+)/.exec(location.hash);
    if (!m) return "";
    history.replaceState(null, "", location.pathname + location.search);
    return m[1];
  }

  function csrf() {
    var m = /(?:^|;\s*)__Host-gatehouse-csrf=([^;]*)/.exec(document.cookie);
    return m ? decodeURIComponent(m[1]) : "";
  }

  function ApiError(status, code, message, fields) {
    this.status = status; this.code = code; this.message = message; this.fields = fields || {};
  }

  // call sends a JSON request to path (relative to the function, or to
  // the OAuthCallback function when base is "oauth") and returns the
  // decoded answer, or null for an empty one. An expired access cookie is
  // refreshed once and the call repeated.
  async function call(method, path, data, opts) {
    opts = opts || {};
    var url = (opts.base === "oauth" ? OAUTH + "/" : API) + path;
    var headers = { "X-Gatehouse-Client": "browser", "Accept": "application/json" };
    var token = csrf();
    if (token) headers["X-CSRF-Token"] = token;
    var init = { method: method, headers: headers, credentials: "same-origin" };
    if (data !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(data);
    }
    var res;
    try {
      res = await fetch(url, init);
    } catch (e) {
      throw new ApiError(0, "network", S.network);
    }
    if (res.status === 401 && !opts.retried && path !== "token" && token) {
      var refreshed = await fetch(API + "token", { method: "POST", credentials: "same-origin",
        headers: { "X-Gatehouse-Client": "browser", "X-CSRF-Token": token } });
      if (refreshed.ok) return call(method, path, data, Object.assign({}, opts, { retried: true }));
    }
    if (opts.raw && res.ok) return res;
    var text = await res.text();
    var json = null;
    if (text) { try { json = JSON.parse(text); } catch (e) { json = null; } }
    if (!res.ok) {
      var err = json && json.error ? json.error : {};
      throw new ApiError(res.status, err.code || "error", err.message || S.error, err.fields);
    }
    return json;
  }

  function show(el, on) { if (el) el.hidden = !on; }
  function $(id) { return document.getElementById(id); }

  function say(msg) {
    show($("error"), false);
    var s = $("status");
    s.textContent = msg;
    show(s, true);
  }

  // ssoRequired shows that the user's organization requires its single
  // sign-on (403 sso_required names it) with a link that starts it.
  function ssoRequired(org) {
    var url = OAUTH + "/signin/oidc?org=" + encodeURIComponent(org);
    if (body.dataset.return) url += "&return_to=" + encodeURIComponent(body.dataset.return);
    $("sso-required-text").textContent = S.sso_required;
    var a = $("sso-required-link");
    a.textContent = S.sso_continue;
    a.href = url;
    show($("error"), false);
    show($("status"), false);
    show($("sso-required"), true);
    a.focus();
  }

  function fail(e) {
    if (e.code === "sso_required" && e.fields.org) { ssoRequired(e.fields.org); return; }
    show($("sso-required"), false);
    var msgs = { invalid_credentials: S.invalid_credentials, invalid_token: S.invalid_token,
      rate_limited: S.too_many, weak_password: S.weak_password, network: S.network };
    var el = $("error");
    el.textContent = msgs[e.code] || e.message || S.error;
    show(el, true);
    show($("status"), false);
    el.tabIndex = -1;
    el.focus();
  }

  // returnURL is where a signed-in user goes: the checked return_to the
  // page was given, or the account page.
  function returnURL() { return body.dataset.return || ROOT + "account"; }

  function signinURL() {
    return ROOT + "signin?return_to=" + encodeURIComponent(location.origin + location.pathname);
  }

  // signedIn handles a sign-in answer: the MFA step, or on to the return URL.
  function signedIn(res) {
    if (res && res.mfa_required) {
      mfaToken = res.mfa_token;
      show($("signin"), false);
      document.querySelectorAll("#mfa [data-mfa]").forEach(function (el) {
        show(el, (res.methods || []).indexOf(el.dataset.mfa) >= 0);
      });
      show($("mfa"), true);
      var first = document.querySelector("#mfa [data-mfa]:not([hidden]) input, #mfa [data-mfa]:not([hidden]) button");
      (first || $("mfa-title")).focus();
      return;
    }
    location.assign(returnURL());
  }

  // restartSignin goes back to the first step after a refused second
  // factor: the MFA token is single use.
  function restartSignin() {
    mfaToken = "";
    show($("mfa"), false);
    show($("signin"), true);
  }

  var then = {
    signin: signedIn,
    sent: function (res, form) { say(S.sent); form.reset(); },
    reset: function (res, form) { say(S.password_changed); show(form, false); },
    invite: function (res, form) { say(S.invite_accepted); show(form, false); },
    "password-changed": function (res, form) { say(S.password_changed); form.reset(); },
    codes: function (res, form) { form.reset(); show($("totp-setup"), false); showCodes(res.recovery_codes); loadMFA(); },
    reauth: function (res, form) {
      form.reset();
      show($("reauth"), false);
      var again = pending; pending = null;
      if (again) again();
    },
    renamed: function () { say(S.saved); loadMFA(); },
    deleted: function () { location.assign(ROOT + "signin"); }
  };

  function formData(form) {
    var data = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.dataset.skip !== undefined) return;
      if (el.value !== "" || el.required) data[el.name] = el.value;
    });
    if (form.dataset.token !== undefined) data.token = pageToken;
    if (form.dataset.mfa !== undefined) data.mfa_token = mfaToken;
    if (form.dataset.reauth === "password") data = { method: "password", password: data.password };
    if (form.dataset.reauth === "totp") data = { method: "totp", proof: { code: data.code } };
    return data;
  }

  // run calls action with the form's button disabled, and shows errors.
  // A route that needs a recent sign-in opens the step-up form and runs
  // action again once it succeeds.
  async function run(button, action) {
    if (button) button.disabled = true;
    try {
      await action();
    } catch (e) {
      if (e.code === "reauthentication_required" && $("reauth")) {
        pending = function () { run(button, action); };
        show($("reauth"), true);
        say(S.reauth_needed);
        $("reauth-title").focus();
      } else if (e.status === 401 && body.dataset.page === "account") {
        location.assign(signinURL());
      } else {
        fail(e);
        if (mfaToken && e.status !== 0) restartSignin();
      }
    } finally {
      if (button) button.disabled = false;
    }
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.dataset.call) return;
    ev.preventDefault();
    if (form.dataset.token !== undefined && !pageToken) { fail(new ApiError(400, "no_token", S.no_token)); return; }
    var parts = form.dataset.call.split(" ");
    run(form.querySelector("button[type=submit]"), async function () {
      var res;
      try {
        res = await call(parts[0], parts[1], formData(form), { base: form.dataset.base });
      } catch (e) {
        if (e.status === 401 && form.dataset.signin !== undefined) {
          sessionStorage.setItem("gatehouse-invitation", pageToken);
          location.assign(signinURL());
          return;
        }
        throw e;
      }
      then[form.dataset.then](res, form);
    });
  });

  // WebAuthn: the server's options carry base64url strings where the
  // browser wants bytes, and the browser's answer the reverse.
  function bytes(s) {
    var b = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
    var out = new Uint8Array(b.length);
    for (var i = 0; i < b.length; i++) out[i] = b.charCodeAt(i);
    return out.buffer;
  }
  function b64url(buf) {
    var s = "", a = new Uint8Array(buf);
    for (var i = 0; i < a.length; i++) s += String.fromCharCode(a[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function descriptors(list) {
    return (list || []).map(function (c) { return Object.assign({}, c, { id: bytes(c.id) }); });
  }
  function credentialJSON(c) {
    var r = c.response, out = { id: c.id, rawId: b64url(c.rawId), type: c.type,
      clientExtensionResults: c.getClientExtensionResults(), response: { clientDataJSON: b64url(r.clientDataJSON) } };
    if (c.authenticatorAttachment) out.authenticatorAttachment = c.authenticatorAttachment;
    if (r.attestationObject) {
      out.response.attestationObject = b64url(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = b64url(r.authenticatorData);
      out.response.signature = b64url(r.signature);
      if (r.userHandle) out.response.userHandle = b64url(r.userHandle);
    }
    return out;
  }
  function needWebAuthn() {
    if (!window.PublicKeyCredential) throw new ApiError(0, "unsupported", S.passkey_unsupported);
  }
  async function assertion(opts) {
    needWebAuthn();
    var pk = Object.assign({}, opts.publicKey, { challenge: bytes(opts.publicKey.challenge),
      allowCredentials: descriptors(opts.publicKey.allowCredentials) });
    var c = await navigator.credentials.get({ publicKey: pk });
    return { ceremony: opts.ceremony, credential: credentialJSON(c) };
  }

  var actions = {
    "passkey-signin": async function () {
      signedIn(await call("POST", "login/webauthn", await assertion(await call("POST", "login/webauthn/options", {}))));
    },
    "passkey-mfa": async function () {
      var opts = await call("POST", "login/webauthn/options", { mfa_token: mfaToken });
      mfaToken = "";
      signedIn(await call("POST", "login/webauthn", await assertion(opts)));
    },
    "passkey-add": async function () {
      needWebAuthn();
      var opts = await call("POST", "mfa/webauthn/options");
      var pk = Object.assign({}, opts.publicKey, { challenge: bytes(opts.publicKey.challenge),
        user: Object.assign({}, opts.publicKey.user, { id: bytes(opts.publicKey.user.id) }),
        excludeCredentials: descriptors(opts.publicKey.excludeCredentials) });
      var c = await navigator.credentials.create({ publicKey: pk });
      await call("POST", "mfa/webauthn", { ceremony: opts.ceremony, credential: credentialJSON(c) });
      say(S.passkey_added);
      loadMFA();
    },
    "totp-enroll": async function () {
      var en = await call("POST", "mfa/totp");
      $("totp-secret").textContent = en.secret;
      var png = await call("POST", "ui/qr", { uri: en.otpauth_uri }, { raw: true });
      $("totp-qr").src = URL.createObjectURL(await png.blob());
      show($("totp-off"), false);
      show($("totp-setup"), true);
      $("totp-code").focus();
    },
    "totp-disable": async function () { await call("DELETE", "mfa/totp"); say(S.saved); loadMFA(); },
    "codes-new": async function () { showCodes((await call("POST", "mfa/recovery-codes")).recovery_codes); loadMFA(); },
    // After enrolling a factor that an organization requires, a new
    // sign-in with it gives a session that passed two factors.
    "signin-again": async function () {
      await call("POST", "logout");
      var ret = body.dataset.return;
      location.assign(ROOT + "signin" + (ret ? "?return_to=" + encodeURIComponent(ret) : ""));
    },
    "logout": async function () { await call("POST", "logout"); location.assign(ROOT + "signin"); },
    "logout-all": async function () { await call("POST", "logout/all"); location.assign(ROOT + "signin"); },
    "session-revoke": async function (el) { await call("DELETE", "sessions/" + encodeURIComponent(el.dataset.id)); loadSessions(); },
    "passkey-rename": async function (el) {
      var li = el.closest("li");
      var form = document.createElement("form");
      form.dataset.call = "PATCH mfa/webauthn/" + encodeURIComponent(el.dataset.id);
      form.dataset.then = "renamed";
      var id = "rename-" + el.dataset.id;
      var label = document.createElement("label");
      label.htmlFor = id;
      label.textContent = S.passkey_name;
      var input = document.createElement("input");
      input.id = id; input.name = "name"; input.required = true; input.maxLength = 100;
      input.value = el.dataset.name || "";
      var save = document.createElement("button");
      save.type = "submit"; save.textContent = S.save;
      form.append(label, input, save);
      li.replaceChildren(form);
      input.focus();
    },
    "passkey-remove": async function (el) { await call("DELETE", "mfa/webauthn/" + encodeURIComponent(el.dataset.id)); loadMFA(); },
    "identity-unlink": async function (el) { await call("DELETE", "identities/" + encodeURIComponent(el.dataset.id)); loadIdentities(); },
    "export": async function () {
      var res = await call("GET", "me/export", undefined, { raw: true });
      var a = document.createElement("a");
      a.href = URL.createObjectURL(await res.blob());
      a.download = "gatehouse-export.json";
      document.body.appendChild(a);
      a.click();
      a.remove();
      say(S.exported);
    }
  };

  document.addEventListener("click", function (ev) {
    var el = ev.target.closest("[data-action]");
    if (!el || !actions[el.dataset.action]) return;
    ev.preventDefault();
    run(el, function () { return actions[el.dataset.action](el); });
  });

  function showCodes(codes) {
    var list = $("codes-list");
    list.replaceChildren();
    (codes || []).forEach(function (c) { var li = document.createElement("li"); li.textContent = c; list.appendChild(li); });
    show($("codes"), true);
    $("codes-title").focus();
  }

  // item returns a list entry with text and, if action is given, a button.
  function item(text, action, id, label) {
    var li = document.createElement("li");
    var span = document.createElement("span");
    span.textContent = text;
    li.appendChild(span);
    if (action) {
      var b = document.createElement("button");
      b.type = "button"; b.className = "secondary"; b.dataset.action = action; b.dataset.id = id;
      b.textContent = label;
      li.appendChild(b);
    }
    return li;
  }
  function fill(list, items) {
    list.replaceChildren.apply(list, items.length ? items : [item(list.dataset.empty || "")]);
  }
  function when(t) { return new Date(t).toLocaleString(); }

  async function loadSessions() {
    var res = await call("GET", "sessions");
    fill($("sessions"), res.sessions.map(function (s) {
      var text = (s.user_agent || "?") + " · " + when(s.last_seen_at);
      return s.current ? item(text + " (" + S.current + ")") : item(text, "session-revoke", s.id, S.revoke);
    }));
  }
  async function loadMFA() {
    var res = await call("GET", "mfa");
    show($("totp-on"), res.totp_enabled);
    show($("totp-off"), !res.totp_enabled && $("totp-setup").hidden);
    show($("codes-left-line"), res.totp_enabled || res.webauthn_credentials.length > 0);
    show($("mfa-required-again"), res.totp_enabled || res.webauthn_credentials.length > 0);
    $("codes-left").textContent = String(res.recovery_codes_left);
    fill($("passkeys"), res.webauthn_credentials.map(function (c) {
      var li = item((c.name || S.passkey) + " · " + when(c.created_at), "passkey-rename", c.id, S.rename);
      li.querySelector("button").dataset.name = c.name;
      li.appendChild(item("", "passkey-remove", c.id, S.remove).querySelector("button"));
      return li;
    }));
  }
  async function loadIdentities() {
    var res = await call("GET", "identities");
    fill($("identities"), res.identities.map(function (i) {
      return item(i.provider + " · " + i.subject, "identity-unlink", i.id, S.unlink);
    }));
  }

  async function loadAccount() {
    var me = await call("GET", "me");
    $("me-email").textContent = me.user.email;
    show($("account"), true);
    await Promise.all([loadSessions(), loadMFA(), loadIdentities()]);
  }

  if (body.dataset.page === "account") run(null, loadAccount);
  if (body.dataset.page === "invitations/accept" && !pageToken) {
    pageToken = sessionStorage.getItem("gatehouse-invitation") || "";
    sessionStorage.removeItem("gatehouse-invitation");
  }
  if (pageToken || body.dataset.page === "signin") {
    var first = document.querySelector("main input:not([type=hidden])");
    if (first) first.focus();
  }
})();
