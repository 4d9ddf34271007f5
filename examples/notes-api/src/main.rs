//! The demo's **resource server**: a notes API that trusts Latchkey's access tokens through
//! `latchkey-resource`. Each user sees their own notes; reading needs `notes:read`,
//! writing `notes:write`.
//!
//! ```text
//! LATCHKEY_ISSUER=http://127.0.0.1:8080 NOTES_AUDIENCE=http://127.0.0.1:9090 \
//! cargo run -p latchkey-notes-api                     # listens on 127.0.0.1:9090
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{FromRef, State};
use axum::routing::get;
use axum::{Json, Router};
use latchkey_resource::{LatchkeyAuth, RequireScope, scope};
use serde::Deserialize;
use serde_json::{Value, json};

scope! {
    NotesRead = "notes:read";
    NotesWrite = "notes:write";
}

#[derive(Clone)]
struct Api {
    auth: LatchkeyAuth,
    notes: Arc<Mutex<HashMap<String, Vec<String>>>>,
}

impl FromRef<Api> for LatchkeyAuth {
    fn from_ref(api: &Api) -> Self {
        api.auth.clone()
    }
}

/// `GET /notes`: the caller's notes.
async fn list_notes(State(api): State<Api>, claims: RequireScope<NotesRead>) -> Json<Value> {
    let notes = api
        .notes
        .lock()
        .ok()
        .and_then(|n| n.get(&claims.subject).cloned())
        .unwrap_or_default();
    let list: Vec<Value> = notes.into_iter().map(|text| json!({"text": text})).collect();
    Json(json!({"owner": claims.subject, "client_id": claims.client_id, "notes": list}))
}

#[derive(Deserialize)]
struct NewNote {
    text: String,
}

/// `POST /notes`: adds a note for the caller.
async fn create_note(
    State(api): State<Api>,
    claims: RequireScope<NotesWrite>,
    Json(note): Json<NewNote>,
) -> Json<Value> {
    let text: String = note.text.chars().take(500).collect();
    if let Ok(mut notes) = api.notes.lock() {
        notes
            .entry(claims.subject.clone())
            .or_default()
            .push(text.clone());
    }
    Json(json!({"created": text, "owner": claims.subject}))
}

#[tokio::main]
async fn main() {
    let issuer = std::env::var("LATCHKEY_ISSUER").unwrap_or_else(|_| "http://127.0.0.1:8080".to_owned());
    let audience = std::env::var("NOTES_AUDIENCE").unwrap_or_else(|_| "http://127.0.0.1:9090".to_owned());
    let listen = std::env::var("NOTES_LISTEN").unwrap_or_else(|_| "127.0.0.1:9090".to_owned());
    let auth = match LatchkeyAuth::discover(&issuer, &audience).await {
        Ok(auth) => auth,
        Err(error) => {
            eprintln!("error: cannot reach Latchkey at {issuer}: {error}");
            std::process::exit(1);
        }
    };
    let api = Api {
        auth,
        notes: Arc::default(),
    };
    let app = Router::new()
        .route("/notes", get(list_notes).post(create_note))
        .with_state(api);
    let listener = match tokio::net::TcpListener::bind(&listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: cannot listen on {listen}: {error}");
            std::process::exit(1);
        }
    };
    println!("notes API on http://{listen} (audience {audience}, issuer {issuer})");
    if let Err(error) = axum::serve(listener, app).await {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}
