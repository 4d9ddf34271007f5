// Latchkey passkeys: runs the WebAuthn ceremony a form describes in its data attributes
// (navigator.credentials.create or .get), puts the authenticator's answer into the form's
// hidden fields as base64url, and submits it. The server checks everything; this script
// only carries bytes. Forms stay hidden where the browser has no WebAuthn.
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
    form.elements.namedItem(name).value = value;
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

  for (const form of document.querySelectorAll('form[data-passkey]')) {
    const status = form.querySelector('[data-passkey-status]');
    if (!supported) {
      if (!form.hidden && status) {
        status.textContent = 'This browser cannot use passkeys.';
        status.hidden = false;
      }
      continue;
    }
    form.hidden = false;
    // The button is not a submit button (the login page has exactly one, the password's),
    // and Enter in a field of this form must not send it without a ceremony.
    form.addEventListener('submit', (event) => event.preventDefault());
    const button = form.querySelector('[data-passkey-start]');
    if (!button) continue;
    button.addEventListener('click', async () => {
      if (form.dataset.passkey === 'create' && !form.reportValidity()) return;
      button.disabled = true;
      try {
        await (form.dataset.passkey === 'create' ? create : get)(form, form.dataset);
        form.submit();
      } catch (error) {
        if (status) {
          status.textContent =
            error && error.name === 'NotAllowedError'
              ? 'The passkey request was cancelled or timed out. Try again.'
              : error && error.name === 'InvalidStateError'
                ? 'This passkey is already registered.'
                : `Passkeys did not work here (${error && error.name ? error.name : 'error'}).`;
          status.hidden = false;
        }
        button.disabled = false;
      }
    });
  }
})();
