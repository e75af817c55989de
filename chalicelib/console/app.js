// The API keys console: the entry module. Plain JavaScript ES modules, no dependencies, no build.
//
// Rules the modules keep:
// - User data reaches the DOM only through textContent / attributes, never innerHTML.
// - The signed-in key, or a person's tokens, live in sessionStorage only (never localStorage,
//   cookies or the URL); a person's password is sent to the sign-in service only, never kept.
// - A new key's secret lives in one DOM node while its dialog is open, and nowhere else;
//   closing the dialog empties that node.
// - Modules import each other by relative path (./name.js); the app serves each import with
//   the version of the whole set (routes/console.py), so a browser never mixes two deploys.
//
// Modules: shared.js (state, DOM helpers), api.js (the API client), cognito.js (the user pool's
// sign-in), oidc.js (any issuer's sign-in: a redirect with PKCE), session.js (sign in and out, panels), keys.js (the list), forms.js and dialogs.js (the key dialogs), roles.js, events.js,
// plans.js, navigation.js (Back closes a dialog). They only define things; wiring happens here, once the page is parsed (modules are
// deferred).

import { wirePlans } from "./plans.js";
import { resumeSession, wireSession } from "./session.js";
import { wireKeys } from "./keys.js";
import { wireDialogs } from "./dialogs.js";
import { wireRoles } from "./roles.js";
import { wireEvents } from "./events.js";
import { wireNavigation } from "./navigation.js";

wirePlans(); // first: on "+ API key" the plan picker starts loading before the create dialog opens
wireSession();
wireKeys();
wireDialogs();
wireRoles();
wireEvents();
wireNavigation();
resumeSession();
