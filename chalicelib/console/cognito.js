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

// The steps Cognito may ask for after the password, and the answer each takes.
export const CHALLENGES = {
  NEW_PASSWORD_REQUIRED: "NEW_PASSWORD", // a person invited with a temporary password chooses their own
  SOFTWARE_TOKEN_MFA: "SOFTWARE_TOKEN_MFA_CODE", // the code of their authenticator app
  SMS_MFA: "SMS_MFA_CODE",
};

// Either { tokens } or { challenge: { name, session, username } } for the next step.
function outcome(answer, username) {
  if (answer.AuthenticationResult) return { tokens: tokensOf(answer.AuthenticationResult, null) };
  const name = answer.ChallengeName || "";
  if (!CHALLENGES[name] || !answer.Session) {
    throw new CognitoError(name || "Challenge",
      "Your account needs a step this console cannot take (" + (name || "a challenge") + "). Ask your administrator.");
  }
  const parameters = answer.ChallengeParameters || {};
  // Cognito names the user as it knows them (an email sign-in has an internal username).
  return { challenge: { name, session: answer.Session, username: parameters.USERNAME || parameters.USER_ID_FOR_SRP || username } };
}

export async function passwordSignIn(settings, username, password) {
  const answer = await call(settings, "InitiateAuth", {
    AuthFlow: "USER_PASSWORD_AUTH",
    ClientId: settings.clientId,
    AuthParameters: { USERNAME: username, PASSWORD: password },
  });
  return outcome(answer, username);
}

export async function answerChallenge(settings, challenge, value) {
  const answer = await call(settings, "RespondToAuthChallenge", {
    ClientId: settings.clientId,
    ChallengeName: challenge.name,
    Session: challenge.session,
    ChallengeResponses: { USERNAME: challenge.username, [CHALLENGES[challenge.name]]: value },
  });
  return outcome(answer, challenge.username);
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
