//! Authentication: the identity, the agent, the default keys, then a password from the environment.

use super::*;

/// Try the credentials in order, stopping at the first the server accepts.
pub(super) fn authenticate(
    session: &Session,
    target: &SshTarget,
    options: &SshOptions,
    address: &str,
) -> Result<(), TransportError> {
    let user = target.user.as_str();
    let methods = match session.auth_methods(user) {
        Ok(methods) => methods.to_owned(),
        // The server let us in with no credentials at all.
        Err(_) if session.authenticated() => return Ok(()),
        Err(e) => return Err(auth_broke(address, &e)),
    };
    let accepts = |method: &str| methods.split(',').any(|m| m == method);
    let mut tried = Vec::new();

    if accepts("publickey") {
        if try_keys(session, user, options, &mut tried).map_err(|e| auth_broke(address, &e))? {
            return Ok(());
        }
    } else {
        tried.push("no key (the server does not accept keys)".to_owned());
    }

    if let Some(variable) = &options.password_env {
        match std::env::var(variable) {
            Ok(password) if !password.is_empty() => {
                let label = format!("a password from ${variable}");
                let result = if accepts("password") {
                    Some(session.userauth_password(user, &password))
                } else if accepts("keyboard-interactive") {
                    Some(session.userauth_keyboard_interactive(user, &mut AnswerWith(password)))
                } else {
                    None
                };
                match result {
                    None => tried.push(format!("{label} (the server does not accept passwords)")),
                    Some(result) => {
                        if attempt(result, &label, &mut tried)
                            .map_err(|e| auth_broke(address, &e))?
                        {
                            return Ok(());
                        }
                    }
                }
            }
            _ => tried.push(format!("no password (${variable} is not set)")),
        }
    }

    if tried.is_empty() {
        tried.push("nothing: no identity, no agent, no key in ~/.ssh".to_owned());
    }
    Err(TransportError::Auth {
        user: user.to_owned(),
        address: address.to_owned(),
        tried: format!("{}; the server accepts {methods}", tried.join(", ")),
    })
}

/// The identity when one is given; otherwise the agent's keys, then the default key files.
/// `Ok(true)` once one is accepted; `Err` when the connection broke.
pub(super) fn try_keys(
    session: &Session,
    user: &str,
    options: &SshOptions,
    tried: &mut Vec<String>,
) -> Result<bool, ssh2::Error> {
    let key_file = |path: &Path, tried: &mut Vec<String>| {
        let label = format!("key {}", path.display());
        if let Err(e) = fs::File::open(path) {
            tried.push(format!("{label} (cannot read it: {e})"));
            return Ok(false);
        }
        attempt(
            session.userauth_pubkey_file(user, None, path, None),
            &label,
            tried,
        )
    };

    if let Some(identity) = &options.identity {
        return key_file(identity, tried);
    }

    if std::env::var_os("SSH_AUTH_SOCK").is_some_and(|socket| !socket.is_empty()) {
        match agent_keys(session, user, tried) {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(e) if is_connection_error(&e) => return Err(e),
            Err(e) => tried.push(format!("ssh-agent ({})", e.message())),
        }
    }

    if let Some(home) = std::env::var_os("HOME") {
        let dir = Path::new(&home).join(".ssh");
        for name in DEFAULT_KEYS {
            let path = dir.join(name);
            if path.exists() && key_file(&path, tried)? {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

pub(super) fn agent_keys(
    session: &Session,
    user: &str,
    tried: &mut Vec<String>,
) -> Result<bool, ssh2::Error> {
    let mut agent = session.agent()?;
    agent.connect()?;
    agent.list_identities()?;
    let identities = agent.identities()?;
    if identities.is_empty() {
        tried.push("ssh-agent (it holds no key)".to_owned());
    }
    let mut accepted = false;
    for (i, identity) in identities.iter().enumerate() {
        let label = match identity.comment() {
            "" => format!("agent key #{}", i + 1),
            comment => format!("agent key {comment}"),
        };
        if attempt(agent.userauth(user, identity), &label, tried)? {
            accepted = true;
            break;
        }
    }
    let _ = agent.disconnect();
    Ok(accepted)
}

/// Note one authentication attempt: `Ok(true)` accepted, `Ok(false)` refused (and noted in
/// `tried`), `Err` when the connection itself failed.
pub(super) fn attempt(
    result: Result<(), ssh2::Error>,
    label: &str,
    tried: &mut Vec<String>,
) -> Result<bool, ssh2::Error> {
    match result {
        Ok(()) => {
            tracing::debug!(credential = %label, "accepted");
            Ok(true)
        }
        Err(e) if is_connection_error(&e) => Err(e),
        Err(e) => {
            let why = match code(&e) {
                LIBSSH2_ERROR_AUTHENTICATION_FAILED | LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED => {
                    "refused".to_owned()
                }
                LIBSSH2_ERROR_FILE => format!("unusable: {}", e.message()),
                _ => e.message().to_owned(),
            };
            tried.push(format!("{label} ({why})"));
            Ok(false)
        }
    }
}

pub(super) fn auth_broke(address: &str, e: &ssh2::Error) -> TransportError {
    TransportError::Handshake {
        address: address.to_owned(),
        reason: format!(
            "the connection failed during authentication: {}",
            e.message()
        ),
    }
}

/// Answers every hidden prompt of keyboard-interactive authentication with the password.
pub(super) struct AnswerWith(String);

impl KeyboardInteractivePrompt for AnswerWith {
    fn prompt<'a>(
        &mut self,
        _user: &str,
        _instructions: &str,
        prompts: &[Prompt<'a>],
    ) -> Vec<String> {
        prompts
            .iter()
            .map(|prompt| {
                if prompt.echo {
                    String::new()
                } else {
                    self.0.clone()
                }
            })
            .collect()
    }
}
