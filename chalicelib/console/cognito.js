// The user pool's sign-in API (Amazon Cognito), called from the browser: a password sign-in
// (USER_PASSWORD_AUTH: the password goes over TLS to Cognito only, never to this API; SRP would
// need a large client library and its big-number maths in the page), renewal with the refresh
// token, and signing out everywhere. The page names the endpoint and the app client in its
// <meta name="apikeys-sign-in">; without them people do not sign in here.

export class CognitoError extends Error {
  constructor(type, message) {
    super(message);
    this.type = type;
  }
}

export function signInSettings() {
  const meta = document.querySelector('meta[name="apikeys-sign-in"]');
  const endpoint = meta ? meta.dataset.cognitoEndpoint : "";
  const clientId = meta ? meta.dataset.clientId : "";
  return endpoint && clientId ? { endpoint, clientId } : null;
}

async function call(settings, action, body) {
  let response;
  try {
    response = await fetch(settings.endpoint, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AWSCognitoIdentityProviderService." + action,
      },
      body: JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch (error) {
    throw new CognitoError("NetworkError", "The sign-in service could not be reached. Check your connection and try again.");
  }
  let data = {};
  try { data = await response.json(); } catch (error) { data = {}; }
  if (!response.ok) {
    // Cognito's __type may carry a prefix ("…#NotAuthorizedException").
    const type = String((data && data.__type) || "").split("#").pop() || "Error";
    throw new CognitoError(type, (data && (data.message || data.Message)) || "The sign-in service answered " + response.status + ".");
  }
  return data || {};
}

function tokensOf(result, refreshToken) {
  return {
    idToken: result.IdToken,
    accessToken: result.AccessToken,
    refreshToken: result.RefreshToken || refreshToken,
    expiresAt: Date.now() + (Number(result.ExpiresIn) || 3600) * 1000,
  };
}

export async function passwordSignIn(settings, username, password) {
  const answer = await call(settings, "InitiateAuth", {
    AuthFlow: "USER_PASSWORD_AUTH",
    ClientId: settings.clientId,
    AuthParameters: { USERNAME: username, PASSWORD: password },
  });
  if (!answer.AuthenticationResult) {
    // NEW_PASSWORD_REQUIRED, an MFA code, ...: steps this page does not take.
    throw new CognitoError(answer.ChallengeName || "Challenge",
      "Your account needs a step this console cannot take here (" + (answer.ChallengeName || "a challenge") + "). Ask your administrator.");
  }
  return tokensOf(answer.AuthenticationResult, null);
}

export async function renew(settings, refreshToken) {
  const answer = await call(settings, "InitiateAuth", {
    AuthFlow: "REFRESH_TOKEN_AUTH",
    ClientId: settings.clientId,
    AuthParameters: { REFRESH_TOKEN: refreshToken },
  });
  if (!answer.AuthenticationResult) throw new CognitoError("Challenge", "The session could not be renewed.");
  return tokensOf(answer.AuthenticationResult, refreshToken);
}

// Ends every session of this person: Cognito revokes their refresh tokens and access tokens.
export async function signOutEverywhere(settings, accessToken) {
  await call(settings, "GlobalSignOut", { AccessToken: accessToken });
}
