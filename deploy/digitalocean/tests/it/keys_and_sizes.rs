//! `nnedge do keys list`, `nnedge do sizes list`, and pagination.

use nnedge_digitalocean::fake::FakeOptions;

use crate::support::{fake, json, run};

/// `keys list` prints id, name and fingerprint.
#[tokio::test]
async fn keys_list_prints_the_account_keys() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let table = run(&fake, &["do", "keys", "list"]).await;
    let text = table.ok();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("FINGERPRINT"),
        "{text}"
    );
    assert!(
        lines[1].contains("laptop") && lines[2].contains("ci"),
        "{text}"
    );
    fake.assert_conformant();
}

/// `sizes list` shows the API's prices per hour and per month.
#[tokio::test]
async fn sizes_list_shows_prices_per_hour_and_month() {
    let Some(fake) = fake(FakeOptions::default()) else {
        return;
    };
    let text = run(&fake, &["do", "sizes", "list"]).await.ok().to_owned();
    assert!(
        text.contains("$/HOUR") && text.contains("$/MONTH"),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.starts_with("s-2vcpu-4gb"))
        .expect("size row");
    assert!(row.contains("0.03571") && row.contains("24.00"), "{row}");

    let sizes = json(
        run(&fake, &["do", "sizes", "list", "--output", "json"])
            .await
            .ok(),
    );
    assert_eq!(sizes[3]["price_monthly"], 24.0);
    fake.assert_conformant();
}

/// Lists follow `links.pages.next` until the last page, asking for 200 a page.
#[tokio::test]
async fn lists_follow_pagination_links() {
    let options = FakeOptions {
        max_per_page: 2,
        ..FakeOptions::default()
    };
    let Some(fake) = fake(options) else { return };
    let sizes = json(
        run(&fake, &["do", "sizes", "list", "--output", "json"])
            .await
            .ok(),
    );

    assert_eq!(sizes.as_array().unwrap().len(), 8);
    let gets: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v2/sizes")
        .collect();
    assert_eq!(gets.len(), 4);
    assert!(
        gets[0].query.contains(&("per_page".into(), "200".into())),
        "{:?}",
        gets[0].query
    );
    assert!(
        gets[3].query.contains(&("page".into(), "4".into())),
        "{:?}",
        gets[3].query
    );
    fake.assert_conformant();
}
