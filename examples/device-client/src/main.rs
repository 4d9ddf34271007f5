//! A command-line device that signs in through Latchkey with the device authorization
//! grant (RFC 8628), using the `oauth2` crate's device-flow support.
//!
//! ```text
//! latchkey client create --name "My CLI" --public \
//!     --grant-type urn:ietf:params:oauth:grant-type:device_code --scope openid
//! cargo run -p latchkey-device-client -- http://127.0.0.1:8080 CLIENT_ID [SCOPE...]
//! ```
//!
//! It finds the endpoints through discovery, prints the code and where to enter it, polls
//! at the interval the server asks for (slowing down when told to), and prints the claims
//! of the access token it receives. With `NOTES_API` set, it then reads the demo's notes
//! API with that token.

use std::process::ExitCode;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth2::basic::BasicClient;
use oauth2::{
    ClientId, DeviceAuthorizationUrl, Scope, StandardDeviceAuthorizationResponse, TokenResponse as _,
    TokenUrl,
};
use serde_json::Value;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let (Some(issuer), Some(client_id)) = (args.next(), args.next()) else {
        return Err("usage: latchkey-device-client ISSUER CLIENT_ID [SCOPE...]".into());
    };
    let scopes: Vec<String> = args.collect();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;

    // Discovery: every endpoint comes from the issuer's metadata.
    let issuer = issuer.trim_end_matches('/');
    let metadata: Value = http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let endpoint = |name: &str| {
        metadata
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("the issuer advertises no {name}"))
    };
    let client = BasicClient::new(ClientId::new(client_id))
        .set_token_uri(TokenUrl::new(endpoint("token_endpoint")?)?)
        .set_device_authorization_url(DeviceAuthorizationUrl::new(endpoint(
            "device_authorization_endpoint",
        )?)?);

    let details: StandardDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scopes(scopes.into_iter().map(Scope::new))
        .request_async(&http)
        .await?;
    println!("To sign in, visit {}", details.verification_uri().as_str());
    println!("and enter the code: {}", details.user_code().secret());
    if let Some(complete) = details.verification_uri_complete() {
        println!("(or open {})", complete.secret());
    }
    println!("Waiting for approval...");

    let tokens = client
        .exchange_device_access_token(&details)
        .request_async(
            &http,
            tokio::time::sleep,
            Some(details.expires_in().max(Duration::from_secs(1))),
        )
        .await?;
    println!("Signed in.");
    let claims = tokens
        .access_token()
        .secret()
        .split('.')
        .nth(1)
        .and_then(|payload| URL_SAFE_NO_PAD.decode(payload).ok())
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .ok_or("the access token is not a JWT")?;
    println!("Access token claims:\n{}", serde_json::to_string_pretty(&claims)?);
    if tokens.refresh_token().is_some() {
        println!("A refresh token was issued too.");
    }
    // In the demo, the device then calls the notes API with its token.
    if let Ok(api) = std::env::var("NOTES_API") {
        let notes: Value = http
            .get(format!("{}/notes", api.trim_end_matches('/')))
            .bearer_auth(tokens.access_token().secret())
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        println!(
            "The notes API answered:\n{}",
            serde_json::to_string_pretty(&notes)?
        );
    }
    Ok(())
}
