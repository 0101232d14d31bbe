// A text field whose value is kept in the browser: the API key (sessionStorage, shared by the
// upload page and the review workspace) and the reviewer's name (localStorage).

/** Fill `input` from `storage[name]` and keep it there on every change; `changed` follows. */
export function keepStored(input, storage, name, changed = () => {}) {
  try {
    input.value = storage().getItem(name) || "";
  } catch {
    // Storage can be unavailable (privacy settings): the field still works for this page.
    return;
  }
  input.addEventListener("change", () => {
    const value = input.value.trim();
    try {
      if (value) storage().setItem(name, value);
      else storage().removeItem(name);
    } catch {
      // as above
    }
    changed(value);
  });
}

export const API_KEY_STORAGE = "invoiceflow.apiKey";
