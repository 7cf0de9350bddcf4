//! The fake itself: auth, and that it really referees traffic against the API description.

use std::io::{Read, Write};

use nnedge_digitalocean::fake::FakeOptions;

use crate::support::{fake, run_with};

/// Sends one raw HTTP/1.1 request to the fake and returns the status line.
fn raw_request(addr: std::net::SocketAddr, method: &str, target: &str, body: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to the fake");
    let token = nnedge_digitalocean::fake::FAKE_TOKEN;
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response.lines().next().unwrap_or_default().to_owned()
}

/// Requests without the right bearer token get 401, and the error says what to check.
#[tokio::test]
async fn requests_without_the_token_are_refused_with_401() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let (interrupt, _trigger) = crate::support::interrupt();
    let wrong = "dop_v1_not-the-right-token";
    let run = run_with(&fake, &["do", "keys", "list"], interrupt, |mut env| {
        env.token = Some(nnedge_digitalocean::ApiToken::new(wrong, "test").unwrap());
        env
    })
    .await;

    let error = run.error();
    assert!(error.contains("401 unauthorized"), "{error}");
    assert!(error.contains("DIGITALOCEAN_ACCESS_TOKEN"), "{error}");
    run.assert_token_absent(wrong);
    assert!(fake.requests().iter().all(|r| !r.authorized));
    fake.assert_conformant();
}

/// A body that breaks the request schema is answered 422 and recorded as a violation.
#[test]
fn request_bodies_that_break_the_schema_are_flagged() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let body =
        r#"{"names":["bad_name"],"region":"fra1","size":"s-1vcpu-1gb","image":"ubuntu-24-04-x64"}"#;
    let status = raw_request(fake.addr(), "POST", "/v2/droplets", body);

    assert!(status.contains("422"), "{status}");
    let violations = fake.violations();
    assert!(
        violations.iter().any(|v| v.contains("request body")),
        "{violations:?}"
    );
    assert!(fake.droplets().is_empty());
}

/// Unknown endpoints, unknown query parameters and out-of-range pages are flagged too.
#[test]
fn unknown_endpoints_and_parameters_are_flagged() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    assert!(raw_request(fake.addr(), "GET", "/v2/no-such-thing", "").contains("404"));
    assert!(raw_request(fake.addr(), "GET", "/v2/sizes?colour=blue", "").contains("422"));
    assert!(raw_request(fake.addr(), "GET", "/v2/sizes?per_page=500", "").contains("422"));

    let violations = fake.violations().join("\n");
    assert!(violations.contains("no such operation"), "{violations}");
    assert!(violations.contains("`colour`"), "{violations}");
    assert!(violations.contains("`per_page`"), "{violations}");
}

/// The fake's own answers conform to the response schemas, for every endpoint it serves.
#[tokio::test]
async fn every_fake_response_conforms() {
    use nnedge_digitalocean::client::{parse_api_url, ClientConfig};
    use nnedge_digitalocean::load_balancers::LoadBalancerCreate;
    use nnedge_digitalocean::{ApiToken, Client};

    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let client = Client::new(ClientConfig {
        api_url: parse_api_url(&fake.url()).unwrap(),
        token: ApiToken::new(fake.token(), "test").unwrap(),
        request_timeout: std::time::Duration::from_secs(2),
        retry: crate::support::fast_tuning().retry,
        dry_run: None,
    })
    .unwrap();

    let image = fake.add_image("flatcar", "fra1", &["flatcar"]);
    assert!(!client.list_regions().await.unwrap().is_empty());
    assert!(!client.list_sizes().await.unwrap().is_empty());
    assert_eq!(client.list_ssh_keys().await.unwrap().len(), 2);
    assert_eq!(
        client.get_image(&image.to_string()).await.unwrap().id,
        image
    );
    assert_eq!(
        client
            .get_image("ubuntu-24-04-x64")
            .await
            .unwrap()
            .slug
            .as_deref(),
        Some("ubuntu-24-04-x64")
    );
    assert!(client.get_tag("flatcar").await.unwrap().is_some());
    assert!(client.get_tag("absent").await.unwrap().is_none());
    assert_eq!(client.list_tags().await.unwrap().len(), 1);

    let create = LoadBalancerCreate::http_to_tag("web-lb", "fra1", "web", 8080);
    let balancer = client.create_load_balancer(&create).await.unwrap();
    assert_eq!(client.list_load_balancers().await.unwrap().len(), 1);
    client.delete_load_balancer(&balancer.id).await.unwrap();
    assert!(fake.load_balancers().is_empty());
    fake.assert_conformant();
}
