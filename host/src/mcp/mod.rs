//! An MCP server (Model Context Protocol, via the `rmcp` SDK) over a [`Runtime`].
//!
//! Every tool of every loaded component is offered under its own name, with its JSON Schema
//! as the input schema. Tools come from components at run time, so the server implements
//! rmcp's low-level [`ServerHandler`] by hand instead of using the `#[tool]` macros.
//!
//! How a call's outcome maps to a `tools/call` result is in [`tool_result`]: a JSON result is
//! one text item; a tool or host error is an error result (`isError: true`); an authorization
//! challenge is a *successful* result carrying the MCS AuthDecorator JSON and a sentence for
//! the user, so the model relays it instead of retrying or giving up.
//!
//! A client that declared URL-mode elicitation (MCP 2025-11-25) is spared that round trip:
//! the server sends the person to the challenge's page itself and returns the tool's result
//! once they are done (the sequence is in `mcp/elicit.rs`). [`McpServer::call`] never elicits.
//!
//! Two transports: [`serve_stdio`] (one client, the process's stdin and stdout) and
//! [`serve_http`] (streamable HTTP at `/mcp`, any number of sessions).

mod elicit;

use std::future::Future;
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt as _};

use crate::{AuthChallenge, AuthError, CallError, Runtime, ToolError, ToolSpec};

/// The path the streamable HTTP transport is served at.
pub const HTTP_PATH: &str = "/mcp";

/// What the server tells clients at `initialize`.
const INSTRUCTIONS: &str = "Mail tools running in WebAssembly sandboxes that never see a secret. \
     When a result has \"auth_required\": true, show the user the sentence that comes with it \
     (a page to open and a code to check), wait for them, then call the tool again.";

/// Why serving stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The MCP handshake over stdio failed.
    #[error("MCP handshake failed")]
    Initialize(#[source] crate::BoxError),
    /// The server task ended abnormally.
    #[error("MCP server task failed")]
    Task(#[source] crate::BoxError),
    /// Reading or writing the transport failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// An MCP server offering the tools of one [`Runtime`]. Cheap to clone (one per session).
#[derive(Clone)]
pub struct McpServer {
    runtime: Runtime,
    tools: Arc<[Tool]>,
}

impl McpServer {
    /// A server for `runtime`'s tools; the tool list is fixed at this point.
    pub fn new(runtime: Runtime) -> Self {
        let tools = runtime.tools().map(mcp_tool).collect();
        Self { runtime, tools }
    }

    /// The tools as `tools/list` returns them.
    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    /// Calls a tool once and maps the outcome as [`tool_result`] does.
    pub async fn call(&self, name: &str, arguments: Option<&JsonObject>) -> CallToolResult {
        let arguments = match arguments_json(arguments) {
            Ok(json) => json,
            Err(invalid) => return invalid,
        };
        let started = std::time::Instant::now();
        let result = self.runtime.call_tool(name, &arguments).await;
        tracing::info!(tool = name, elapsed = ?started.elapsed(), ok = result.is_ok(), "MCP tool call");
        tool_result(result)
    }
}

/// The arguments as the JSON text tools take (`{}` when there are none), or the error result.
fn arguments_json(arguments: Option<&JsonObject>) -> Result<String, CallToolResult> {
    match arguments {
        Some(map) => serde_json::to_string(map).map_err(|e| {
            CallToolResult::error(vec![ContentBlock::text(format!("invalid arguments: {e}"))])
        }),
        None => Ok("{}".to_owned()),
    }
}

/// The MCP form of a tool: name, description and the component's schema as is. A schema
/// that is not a JSON object (MCP requires one) becomes `{"type":"object"}`.
fn mcp_tool(spec: &ToolSpec) -> Tool {
    let schema = match &spec.input_schema {
        serde_json::Value::Object(map) => map.clone(),
        other => {
            tracing::warn!(tool = %spec.name, schema = %other, "input schema is not an object");
            let mut map = JsonObject::new();
            map.insert("type".into(), "object".into());
            map
        }
    };
    Tool::new(spec.name.clone(), spec.description.clone(), schema)
}

/// Maps a call's outcome to a `tools/call` result.
///
/// - a JSON result: one text item, `isError: false`;
/// - an authorization challenge: `isError: false` with two text items, the AuthDecorator
///   JSON (`{"auth_required":true,…}`) and [`auth_sentence`];
/// - any other tool error (unknown tool, bad arguments, refused): `isError: true`, its message;
/// - a host failure (timeout, trap): `isError: true`, the message with its causes.
pub fn tool_result(result: Result<String, CallError>) -> CallToolResult {
    match result {
        Ok(json) => CallToolResult::success(vec![ContentBlock::text(json)]),
        Err(CallError::Tool(ToolError::Auth(AuthError::Challenge(challenge)))) => {
            CallToolResult::success(vec![
                ContentBlock::text(challenge.to_llm_json()),
                ContentBlock::text(auth_sentence(&challenge)),
            ])
        }
        Err(e) => CallToolResult::error(vec![ContentBlock::text(error_chain(&e))]),
    }
}

/// The sentence for the user that accompanies a challenge, e.g. "Authorization needed: open
/// `<url>` and check the code `<code>`, then ask again."
pub fn auth_sentence(challenge: &AuthChallenge) -> String {
    match (&challenge.url, &challenge.code) {
        (Some(url), Some(code)) => {
            format!("Authorization needed: open {url} and check the code {code}, then ask again.")
        }
        (Some(url), None) => format!("Authorization needed: open {url}, then ask again."),
        (None, Some(code)) => {
            format!(
                "Authorization needed: {} (code {code}), then ask again.",
                challenge.message.trim_end_matches('.')
            )
        }
        (None, None) => format!(
            "Authorization needed: {}, then ask again.",
            challenge.message.trim_end_matches('.')
        ),
    }
}

/// An error and its sources, joined with ": ".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("mcs", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.to_vec()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let arguments = match arguments_json(request.arguments.as_ref()) {
            Ok(json) => json,
            Err(invalid) => return Ok(invalid.into()),
        };
        let name = &request.name;
        let started = std::time::Instant::now();
        let result = elicit::call_signing_in(&self.runtime, name, &arguments, &context).await;
        tracing::info!(tool = %name, elapsed = ?started.elapsed(), ok = result.is_ok(), "MCP tool call");
        Ok(tool_result(result).into())
    }
}

/// Serves MCP on stdin and stdout until the client closes stdin. Nothing else may write to
/// stdout meanwhile; logs belong on stderr.
///
/// When both are pipes (as MCP clients launch servers), they are driven by the I/O reactor
/// rather than Tokio's blocking pool, which saves two thread hand-offs per message; a
/// terminal or file falls back to the blocking handles.
///
/// # Errors
///
/// [`ServeError::Initialize`] when the handshake fails, [`ServeError::Task`] when the server
/// task panics.
pub async fn serve_stdio(runtime: Runtime) -> Result<(), ServeError> {
    let running = McpServer::new(runtime)
        .serve(rmcp::transport::stdio_pipes())
        .await
        .map_err(|e| ServeError::Initialize(Box::new(e)))?;
    let reason = running
        .waiting()
        .await
        .map_err(|e| ServeError::Task(Box::new(e)))?;
    tracing::debug!(?reason, "MCP stdio session ended");
    Ok(())
}

/// Serves streamable HTTP MCP at [`HTTP_PATH`] on `listener` until `shutdown` completes.
///
/// Only requests whose `Host` is a loopback name, the listener's own address, or one of
/// `extra_hosts` (`name` or `name:port`, e.g. a container's service name) are accepted
/// (DNS-rebinding protection).
///
/// # Errors
///
/// [`ServeError::Io`] when the listener fails.
pub async fn serve_http(
    runtime: Runtime,
    listener: tokio::net::TcpListener,
    extra_hosts: &[String],
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let server = McpServer::new(runtime);
    let local = listener.local_addr()?;
    let mut allowed_hosts = StreamableHttpServerConfig::default().allowed_hosts;
    allowed_hosts.push(local.ip().to_string());
    allowed_hosts.push(local.to_string());
    allowed_hosts.extend(extra_hosts.iter().cloned());
    let config = StreamableHttpServerConfig::default().with_allowed_hosts(allowed_hosts);
    let sessions = config.cancellation_token.clone();
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let router = axum::Router::new().nest_service(HTTP_PATH, service);
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Open SSE streams would otherwise keep the graceful shutdown waiting.
            sessions.cancel();
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(result: &CallToolResult) -> Vec<String> {
        result
            .content
            .iter()
            .map(|c| c.as_text().map(|t| t.text.clone()).unwrap_or_default())
            .collect()
    }

    fn challenge(url: Option<&str>, code: Option<&str>) -> AuthChallenge {
        AuthChallenge {
            message: "Connect your Gmail account.".into(),
            url: url.map(Into::into),
            code: code.map(Into::into),
            scope: "gmail".into(),
        }
    }

    #[test]
    fn a_result_is_one_text_item() {
        let result = tool_result(Ok(r#"{"folders":[]}"#.into()));
        assert_eq!(result.is_error, Some(false));
        assert_eq!(texts(&result), [r#"{"folders":[]}"#]);
    }

    #[test]
    fn a_challenge_is_a_success_with_the_decorator_json_and_a_sentence() {
        let c = challenge(Some("https://b/connect/AB-12"), Some("AB-12"));
        let result = tool_result(Err(ToolError::Auth(AuthError::Challenge(c.clone())).into()));
        assert_eq!(result.is_error, Some(false));
        assert_eq!(
            texts(&result),
            [
                c.to_llm_json(),
                "Authorization needed: open https://b/connect/AB-12 and check the code AB-12, \
                 then ask again."
                    .to_owned()
            ]
        );
    }

    #[test]
    fn sentences_cover_missing_url_and_code() {
        assert_eq!(
            auth_sentence(&challenge(Some("https://b"), None)),
            "Authorization needed: open https://b, then ask again."
        );
        assert_eq!(
            auth_sentence(&challenge(None, None)),
            "Authorization needed: Connect your Gmail account, then ask again."
        );
    }

    #[test]
    fn tool_and_host_errors_are_error_results() {
        let result = tool_result(Err(ToolError::Upstream("HTTP 500".into()).into()));
        assert_eq!(result.is_error, Some(true));
        assert_eq!(texts(&result), ["upstream error: HTTP 500"]);

        let denied = tool_result(Err(ToolError::Auth(AuthError::Denied("no".into())).into()));
        assert_eq!(denied.is_error, Some(true));

        let trap = CallError::Trap {
            component: "mail".into(),
            source: "out of fuel".into(),
        };
        let result = tool_result(Err(trap));
        assert_eq!(result.is_error, Some(true));
        assert_eq!(texts(&result), [r#"component "mail" failed: out of fuel"#]);
    }
}
