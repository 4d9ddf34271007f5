// Latchkey passkeys: runs the WebAuthn ceremony a form describes in its data attributes
// (navigator.credentials.create or .get), adds the authenticator's answer to the form as
// hidden base64url fields, and submits it (to data-passkey-action when the form's own
// action is for something else, as on the login page). The server checks everything;
// this script only carries bytes. Passkey buttons stay hidden where the browser has no
// WebAuthn.
'use strict';
(() => {
  const encode = (buffer) => {
    let text = '';
    for (const byte of new Uint8Array(buffer)) text += String.fromCharCode(byte);
    return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  };
  const decode = (text) => {
    const padded = text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  };
  const descriptors = (list) =>
    (list || '').split(' ').filter(Boolean).map((id) => ({ type: 'public-key', id: decode(id) }));
  const set = (form, name, value) => {
    let input = form.querySelector(`input[type="hidden"][name="${name}"]`);
    if (!input) {
      input = document.createElement('input');
      input.type = 'hidden';
      input.name = name;
      form.append(input);
    }
    input.value = value;
  };
  const supported = Boolean(window.PublicKeyCredential && navigator.credentials);

  const create = async (form, d) => {
    const credential = await navigator.credentials.create({
      publicKey: {
        challenge: decode(d.challenge),
        rp: { id: d.rpId, name: 'Latchkey' },
        user: { id: decode(d.userId), name: d.userName, displayName: d.userName },
        pubKeyCredParams: [-7, -8, -257].map((alg) => ({ type: 'public-key', alg })),
        excludeCredentials: descriptors(d.credentials),
        authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'preferred' },
        attestation: 'none',
        timeout: 300000,
      },
    });
    set(form, 'client_data_json', encode(credential.response.clientDataJSON));
    set(form, 'attestation_object', encode(credential.response.attestationObject));
  };

  const get = async (form, d) => {
    const credential = await navigator.credentials.get({
      publicKey: {
        challenge: decode(d.challenge),
        rpId: d.rpId,
        allowCredentials: descriptors(d.credentials),
        userVerification: d.userVerification || 'preferred',
        timeout: 300000,
      },
    });
    const response = credential.response;
    set(form, 'credential_id', encode(credential.rawId));
    set(form, 'client_data_json', encode(response.clientDataJSON));
    set(form, 'authenticator_data', encode(response.authenticatorData));
    set(form, 'signature', encode(response.signature));
    set(form, 'user_handle', response.userHandle ? encode(response.userHandle) : '');
  };

  const explain = (error) =>
    error && error.name === 'NotAllowedError'
      ? 'The passkey request was cancelled or timed out. Try again.'
      : error && error.name === 'InvalidStateError'
        ? 'This passkey is already registered.'
        : `Passkeys did not work here (${error && error.name ? error.name : 'error'}).`;

  for (const form of document.querySelectorAll('form[data-passkey]')) {
    const status = form.querySelector('[data-passkey-status]');
    const button = form.querySelector('[data-passkey-start]');
    const creating = form.dataset.passkey === 'create';
    if (!button) continue;
    if (!supported) {
      if (creating && status) {
        status.textContent = 'This browser cannot use passkeys.';
        status.hidden = false;
      }
      continue;
    }
    button.hidden = false;
    const start = async () => {
      if (creating && !form.reportValidity()) return;
      button.disabled = true;
      if (status) status.hidden = true;
      try {
        await (creating ? create : get)(form, form.dataset);
        if (form.dataset.passkeyAction) form.action = form.dataset.passkeyAction;
        form.submit();
      } catch (error) {
        if (status) {
          status.textContent = explain(error);
          status.hidden = false;
        }
        button.disabled = false;
      }
    };
    button.addEventListener('click', start);
    // On the add page, Enter in the name field starts the ceremony instead of posting
    // a form with no passkey in it.
    if (creating) {
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        start();
      });
    }
  }
})();
