// The fake LinkAuth broker's connect page (linkauth-broker.md §7): show the session, let the
// person confirm that the code matches what the agent showed, then either start the OAuth
// flow or encrypt the form here, in the browser, to the agent's key (WebCrypto, §3) and send
// only the ciphertext. Text from the server is only ever set with textContent, and the page
// loads nothing from anywhere but this broker.
"use strict";

(function () {
  const ALGORITHM = "RSA-OAEP-256+AES-256-GCM";

  const byId = (id) => document.getElementById(id);

  function setStatus(text, state) {
    const status = byId("status");
    status.textContent = text;
    status.dataset.state = state;
  }

  function showError(text) {
    const error = byId("error");
    error.textContent = text;
    error.hidden = false;
    setStatus("Something went wrong.", "error");
  }

  function clearError() {
    const error = byId("error");
    error.textContent = "";
    error.hidden = true;
  }

  // The code in the address, `/connect/{code}`; the broker normalises case and hyphens.
  function codeFromPath() {
    const match = /^\/connect\/([^/]+)\/?$/.exec(window.location.pathname);
    if (!match) {
      return null;
    }
    try {
      return decodeURIComponent(match[1]);
    } catch (_) {
      return null;
    }
  }

  // What a failed response says: its problem `detail` (also inside FastAPI's wrapped errors
  // and 422 lists), else the status and the start of the body.
  async function failure(response) {
    let text = "";
    try {
      text = await response.text();
    } catch (_) {
      // The status line below still says what happened.
    }
    let detail = null;
    try {
      detail = JSON.parse(text).detail;
      if (detail && typeof detail === "object" && !Array.isArray(detail)) {
        detail = detail.detail;
      }
      if (Array.isArray(detail)) {
        detail = detail.map((item) => item && item.msg).filter(Boolean).join("; ");
      }
    } catch (_) {
      // Not JSON: fall through to the status line.
    }
    if (typeof detail === "string" && detail !== "") {
      return detail;
    }
    const status = `The broker answered HTTP ${response.status}`;
    return text ? `${status}: ${text.slice(0, 200)}` : `${status}.`;
  }

  // fetch() with a JSON body, if any; throws an Error whose message is meant for the person.
  async function call(method, url, body) {
    const init = {
      method,
      headers: { Accept: "application/json" },
      credentials: "omit",
      cache: "no-store",
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (e) {
      throw new Error(`Could not reach the broker: ${e.message}`);
    }
    if (!response.ok) {
      throw new Error(await failure(response));
    }
    return response;
  }

  function bytesToBase64(bytes) {
    let binary = "";
    const chunk = 0x8000;
    for (let i = 0; i < bytes.length; i += chunk) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + chunk));
    }
    return btoa(binary);
  }

  function base64ToBytes(text) {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes;
  }

  // The envelope of linkauth-broker.md §3, in the order §7 lists the WebCrypto calls: a fresh
  // AES-256-GCM key (12-byte IV, no AAD) encrypts the JSON, RSA-OAEP with SHA-256 wraps that key,
  // and the transport string is base64 of the compact JSON {wrapped_key, iv, ciphertext}.
  async function encryptFor(publicKey, values) {
    const subtle = window.crypto && window.crypto.subtle;
    if (!subtle) {
      throw new Error(
        "This browser cannot encrypt on this page: WebCrypto needs HTTPS or a loopback address.",
      );
    }
    const spki = base64ToBytes(
      String(publicKey).replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""),
    );
    const rsaKey = await subtle.importKey(
      "spki",
      spki,
      { name: "RSA-OAEP", hash: "SHA-256" },
      false,
      ["wrapKey"],
    );
    const aesKey = await subtle.generateKey({ name: "AES-GCM", length: 256 }, true, ["encrypt"]);
    const iv = window.crypto.getRandomValues(new Uint8Array(12));
    const plaintext = new TextEncoder().encode(JSON.stringify(values));
    const ciphertext = await subtle.encrypt({ name: "AES-GCM", iv }, aesKey, plaintext);
    const wrappedKey = await subtle.wrapKey("raw", aesKey, rsaKey, { name: "RSA-OAEP" });
    const envelope = {
      wrapped_key: bytesToBase64(new Uint8Array(wrappedKey)),
      iv: bytesToBase64(iv),
      ciphertext: bytesToBase64(new Uint8Array(ciphertext)),
    };
    return btoa(JSON.stringify(envelope));
  }

  // One labelled input for a template field; `textarea` and `select` get their own elements,
  // `password` a password input, anything else a text input.
  function fieldInput(field) {
    const name = String(field.name);
    const id = `field-${name}`;
    let input;
    if (field.type === "textarea") {
      input = document.createElement("textarea");
      input.rows = 4;
    } else if (field.type === "select") {
      input = document.createElement("select");
      for (const option of Array.isArray(field.options) ? field.options : []) {
        const element = document.createElement("option");
        element.value = String(option);
        element.textContent = String(option);
        input.appendChild(element);
      }
    } else {
      input = document.createElement("input");
      input.type = field.type === "password" ? "password" : "text";
    }
    input.id = id;
    input.name = name;
    input.required = field.required !== false;
    input.spellcheck = false;
    input.autocomplete = "off";

    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = field.label ? String(field.label) : name;
    const row = document.createElement("div");
    row.className = "field";
    row.append(label, input);
    byId("fields").appendChild(row);
    return [name, input];
  }

  function startOAuth(code, connectToken) {
    const link = byId("continue");
    link.href =
      `/v1/oauth/authorize/${encodeURIComponent(code)}` +
      `?connect_token=${encodeURIComponent(connectToken)}`;
    byId("oauth").hidden = false;
    setStatus("Code confirmed. Continue to sign in.", "confirmed");
  }

  function showForm(info, api, connectToken) {
    const inputs = (Array.isArray(info.fields) ? info.fields : []).map(fieldInput);
    const form = byId("form");
    const submit = byId("submit");
    let token = connectToken;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (token === null) {
        return;
      }
      submit.disabled = true;
      clearError();
      setStatus("Encrypting and sending…", "sending");
      try {
        // Every field, in field order, as a string (linkauth-broker.md §3 (a)).
        const values = Object.create(null);
        for (const [name, input] of inputs) {
          values[name] = input.value;
        }
        const ciphertext = await encryptFor(info.public_key, values);
        await call("POST", `${api}/complete`, {
          ciphertext,
          algorithm: ALGORITHM,
          connect_token: token,
        });
      } catch (e) {
        submit.disabled = false;
        showError(e.message);
        return;
      }
      token = null;
      for (const [, input] of inputs) {
        input.value = "";
      }
      form.hidden = true;
      byId("session").hidden = true;
      setStatus("Connected. Your answers went to your agent encrypted; you can close this window.", "success");
    });
    form.hidden = false;
    setStatus("Code confirmed. Fill in the form.", "confirmed");
    if (inputs.length > 0) {
      inputs[0][1].focus();
    }
  }

  async function confirmCode(info, code, api) {
    const button = byId("confirm");
    button.disabled = true;
    clearError();
    let connectToken;
    try {
      const body = await (await call("POST", `${api}/confirm`)).json();
      connectToken = body.connect_token;
      if (typeof connectToken !== "string" || connectToken === "") {
        throw new Error("The broker confirmed the code but sent no connect token.");
      }
    } catch (e) {
      button.disabled = false;
      showError(e.message);
      return;
    }
    button.hidden = true;
    if (info.template_type === "oauth") {
      startOAuth(code, connectToken);
    } else {
      showForm(info, api, connectToken);
    }
  }

  async function main() {
    if (new URLSearchParams(window.location.search).get("status") === "success") {
      setStatus("Connected. You can close this window and go back to your agent.", "success");
      return;
    }
    const code = codeFromPath();
    if (code === null) {
      showError("This address holds no session code; open the link your agent gave you.");
      return;
    }
    const api = `/v1/connect/${encodeURIComponent(code)}`;
    let info;
    try {
      info = await (await call("GET", api)).json();
    } catch (e) {
      showError(e.message);
      return;
    }
    byId("display-name").textContent = info.display_name ? String(info.display_name) : "Connect";
    byId("code").textContent = info.code ? String(info.code) : code;
    const security = info.security || {};
    if (security.message) {
      const banner = byId("security");
      banner.textContent = String(security.message);
      banner.dataset.mode = String(security.mode || "");
      banner.hidden = false;
    }
    byId("session").hidden = false;
    setStatus("Compare the code with the one your agent showed you.", "pending");
    byId("confirm").addEventListener("click", () => confirmCode(info, code, api));
  }

  main().catch((e) => showError(`The page failed: ${e && e.message ? e.message : e}`));
})();
