//! The page API the person's browser uses: `GET /v1/connect/{code}` (what the page shows),
//! `POST …/confirm` (hands out the connect token) and `POST …/complete` (stores the form's
//! ciphertext). The page itself, which calls them, is `page`.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::fastapi::parse_body;
use super::templates::Field;
use super::{Ctx, Status, session_not_found, with_session_by_code};
use crate::envelope::ALGORITHM;
use crate::wire::{json, problem, random_token, respond};

#[derive(Serialize)]
struct ConnectInfo<'a> {
    status: &'a str,
    display_name: &'a str,
    template_type: &'a str,
    code: &'a str,
    fields: &'a [Field],
    public_key: &'a str,
    security: Security,
    oauth_url: Option<String>,
}

#[derive(Serialize)]
struct Security {
    secure: bool,
    mode: &'static str,
    message: &'static str,
}

pub(super) async fn connect_info(State(shared): Ctx, Path(code): Path<String>) -> Response {
    with_session_by_code(&shared, &code, |session| {
        match session.status {
            Status::Pending => {}
            Status::Confirmed => return session_not_found(),
            Status::Ready | Status::Consumed => {
                return problem(410, "Session Gone", "Session already completed.");
            }
        }
        // The fake only ever listens on 127.0.0.1 over plain HTTP.
        let message =
            "Development mode -- connection is not encrypted. Do not enter real credentials.";
        let security = Security {
            secure: false,
            mode: "development",
            message,
        };
        let body = ConnectInfo {
            status: "pending",
            display_name: &session.display_name,
            template_type: if session.oauth { "oauth" } else { "form" },
            code: &session.code,
            fields: &session.fields,
            public_key: &session.public_key,
            security,
            oauth_url: None,
        };
        json(200, &body)
    })
}

pub(super) async fn confirm(State(shared): Ctx, Path(code): Path<String>) -> Response {
    with_session_by_code(&shared, &code, |session| {
        if session.status != Status::Pending {
            let detail = "Session has already been confirmed.";
            return problem(409, "Already Confirmed", detail);
        }
        session.status = Status::Confirmed;
        let token = session.connect_token.insert(random_token("ct_", 32));
        let body = format!(r#"{{"connect_token":"{token}"}}"#);
        respond(200, "application/json", body)
    })
}

#[derive(Deserialize)]
struct CompleteRequest {
    ciphertext: String,
    algorithm: Option<String>,
    connect_token: String,
}

pub(super) async fn complete(
    State(shared): Ctx,
    Path(code): Path<String>,
    body: Bytes,
) -> Result<Response, Response> {
    let req: CompleteRequest = parse_body(&body)?;
    Ok(with_session_by_code(&shared, &code, |session| {
        if session.status != Status::Confirmed {
            let detail = "Session is not in a completable state.";
            return problem(409, "Session Not Completable", detail);
        }
        // Unlike the real broker (W1), a consumed or empty token never matches.
        if !session.connect_token_is(&req.connect_token) {
            let detail = "Invalid connect_token. Re-confirm the session code.";
            return problem(403, "Invalid Connect Token", detail);
        }
        session.ciphertext = Some(req.ciphertext);
        session.algorithm = Some(req.algorithm.unwrap_or_else(|| ALGORITHM.into()));
        session.status = Status::Ready;
        respond(204, "application/json", Body::empty())
    }))
}

#[cfg(test)]
mod tests {
    use axum::http::header;
    use serde_json::json;

    use super::super::fixtures::{
        agent, client, confirm, connect_info, connect_token, create_ok, idp, post_json,
        problem_body, quick, send, start, with_idp,
    };
    use crate::envelope::{self, Serialization};

    #[tokio::test]
    async fn complete_refuses_an_empty_or_consumed_connect_token() {
        let broker = start(quick());
        let base = broker.base_url();
        let session = create_ok(&broker, json!({"template": "api_key"})).await;
        let complete_url = format!("{base}/v1/connect/{}/complete", session.code);
        let ciphertext =
            envelope::seal(&agent().public_key, b"{}", Serialization::Browser).expect("sealed");
        let body = |token: &str| json!({"ciphertext": ciphertext, "connect_token": token});
        let early = post_json(&complete_url, &body("ct_x")).await;
        let detail = "Session is not in a completable state.";
        assert_eq!(
            (early.status, early.body),
            (409, problem_body("Session Not Completable", 409, detail))
        );
        let token = connect_token(&broker, &session.code).await;
        assert!(token.starts_with("ct_") && token.len() == 46);
        let twice = confirm(&broker, &session.code).await;
        assert_eq!(twice.status, 409);
        let hidden = connect_info(&broker, &session.code).await;
        assert_eq!(hidden.status, 404);
        let detail = "Invalid connect_token. Re-confirm the session code.";
        for wrong in ["", "ct_wrong"] {
            let reply = post_json(&complete_url, &body(wrong)).await;
            assert_eq!(
                (reply.status, reply.body),
                (403, problem_body("Invalid Connect Token", 403, detail))
            );
        }
        let done = post_json(&complete_url, &body(&token)).await;
        assert_eq!((done.status, done.body.as_str()), (204, ""));

        // W1: once the OAuth redirect consumed the connect token, nothing completes the session.
        let idp = idp();
        let broker = start(with_idp(&idp));
        let base = broker.base_url();
        let session = create_ok(&broker, json!({"oauth_provider": "auth0"})).await;
        let token = connect_token(&broker, &session.code).await;
        let authorize = format!(
            "{base}/v1/oauth/authorize/{}?connect_token={token}",
            session.code
        );
        let redirect = send(client().get(&authorize)).await;
        assert_eq!(redirect.status, 302);
        let location = redirect.headers[header::LOCATION].to_str().expect("ASCII");
        assert!(location.starts_with(&format!("{}/authorize?response_type=code&", idp.base_url())));
        assert_eq!(send(client().get(&authorize)).await.status, 403);
        let complete_url = format!("{base}/v1/connect/{}/complete", session.code);
        for stolen in ["", token.as_str()] {
            let reply = post_json(&complete_url, &body(stolen)).await;
            assert_eq!(reply.status, 403);
        }
        assert_eq!(broker.sessions()[0].status, "confirmed");
    }
}
