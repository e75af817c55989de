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
// Modules: shared.js (state, DOM helpers), bus.js (what one part announces and others hear),
// api.js (the API client), cognito.js (the user pool's sign-in),
// oidc.js (any issuer's sign-in: a redirect with PKCE), session.js (sign in and out,
// which panel is shown), tables.js (a panel's table loading), catalog.js (roles and vaults to
// offer), keys.js (the list), forms.js and dialogs.js (the key dialogs), roles.js, events.js,
// plans.js, networks.js, navigation.js (Back closes a dialog). They only define things; wiring
// happens here, once the page is parsed (modules are deferred). No two modules import each other,
// even through others (tests/unit/test_console_imports.py): the panels and the session talk
// over bus.js.

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
