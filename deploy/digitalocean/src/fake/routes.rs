//! The fake's endpoints: what each operation does to the account and answers.
//!
//! Handlers get the matched operation's template and parameters and return a [`Reply`];
//! authentication, faults, headers and schema checks happen around them in
//! [`super::server`].

use std::collections::HashMap;

use serde_json::{json, Value};

use super::state::{regions_json, sizes_json, timestamp, Account, BalancerRecord, DropletRecord};

/// What a handler answers.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Option<Value>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: Some(body),
        }
    }

    fn no_content() -> Self {
        Self {
            status: 204,
            body: None,
        }
    }

    pub(crate) fn error(status: u16, id: &str, message: &str) -> Self {
        Self::json(
            status,
            json!({ "id": id, "message": message, "request_id": request_id() }),
        )
    }

    fn not_found() -> Self {
        Self::error(
            404,
            "not_found",
            "The resource you were accessing could not be found.",
        )
    }

    fn unprocessable(message: &str) -> Self {
        Self::error(422, "unprocessable_entity", message)
    }
}

/// A request id like the API's (a UUID).
pub(crate) fn request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "4d9d8375-3c56-4925-a3e7-{:012x}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A request as the handlers see it.
#[derive(Debug)]
pub(crate) struct Call<'a> {
    pub method: &'a str,
    pub template: &'a str,
    pub params: &'a HashMap<String, String>,
    pub query: &'a [(String, String)],
    pub body: Option<&'a Value>,
    pub base_url: &'a str,
}

impl Call<'_> {
    fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn param_id(&self, name: &str) -> Option<u64> {
        self.params.get(name)?.parse().ok()
    }
}

/// Runs the handler for `call`.
pub(crate) fn route(account: &mut Account, call: &Call<'_>) -> Reply {
    match (call.method, call.template) {
        ("GET", "/v2/account/keys") => {
            let keys: Vec<Value> = account.keys.iter().map(Account::key_json).collect();
            paginate(call, "ssh_keys", keys, account.options.max_per_page)
        }
        ("GET", "/v2/sizes") => paginate(call, "sizes", sizes_json(), account.options.max_per_page),
        ("GET", "/v2/regions") => paginate(
            call,
            "regions",
            regions_json(),
            account.options.max_per_page,
        ),
        ("GET", "/v2/tags") => {
            let tags = account
                .tag_names()
                .iter()
                .map(|t| account.tag_json(t))
                .collect();
            paginate(call, "tags", tags, account.options.max_per_page)
        }
        ("GET", "/v2/tags/{tag_id}") => {
            let name = call.params.get("tag_id").cloned().unwrap_or_default();
            if account.tag_names().contains(&name) {
                Reply::json(200, json!({ "tag": account.tag_json(&name) }))
            } else {
                Reply::not_found()
            }
        }
        ("GET", "/v2/images") => list_images(account, call),
        ("POST", "/v2/images") => create_image(account, call),
        ("GET", "/v2/images/{image_id}") => get_image(account, call),
        ("DELETE", "/v2/images/{image_id}") => {
            let id = call.param_id("image_id");
            let before = account.images.len();
            account.images.retain(|i| Some(i.id) != id || i.public);
            if account.images.len() < before {
                Reply::no_content()
            } else {
                Reply::not_found()
            }
        }
        ("GET", "/v2/droplets") => {
            let tag = call.query("tag_name");
            let droplets: Vec<Value> = poll_droplets(account, |d| {
                tag.is_none_or(|t| d.tags.iter().any(|x| x == t))
            });
            paginate(call, "droplets", droplets, account.options.max_per_page)
        }
        ("POST", "/v2/droplets") => create_droplets(account, call),
        ("GET", "/v2/droplets/{droplet_id}") => {
            let id = call.param_id("droplet_id");
            match poll_droplets(account, |d| Some(d.id) == id).pop() {
                Some(droplet) => Reply::json(200, json!({ "droplet": droplet })),
                None => Reply::not_found(),
            }
        }
        ("DELETE", "/v2/droplets/{droplet_id}") => {
            let id = call.param_id("droplet_id");
            let before = account.droplets.len();
            account.droplets.retain(|d| Some(d.id) != id);
            if account.droplets.len() < before {
                Reply::no_content()
            } else {
                Reply::not_found()
            }
        }
        ("DELETE", "/v2/droplets") => {
            let tag = call.query("tag_name").unwrap_or_default().to_owned();
            account.droplets.retain(|d| !d.tags.contains(&tag));
            Reply::no_content()
        }
        ("GET", "/v2/actions/{action_id}") => {
            let id = call.param_id("action_id");
            match account
                .actions
                .iter()
                .find(|(a, ..)| Some(*a) == id)
                .cloned()
            {
                Some((action, droplet, region)) => Reply::json(
                    200,
                    json!({ "action": account.action_json(action, droplet, &region) }),
                ),
                None => Reply::not_found(),
            }
        }
        ("GET", "/v2/load_balancers") => {
            let all: Vec<Value> = poll_balancers(account, |_| true);
            paginate(call, "load_balancers", all, account.options.max_per_page)
        }
        ("POST", "/v2/load_balancers") => create_balancer(account, call),
        ("GET", "/v2/load_balancers/{lb_id}") => {
            let id = call.params.get("lb_id").cloned().unwrap_or_default();
            match poll_balancers(account, |b| b.id == id).pop() {
                Some(balancer) => Reply::json(200, json!({ "load_balancer": balancer })),
                None => Reply::not_found(),
            }
        }
        ("DELETE", "/v2/load_balancers/{lb_id}") => {
            let id = call.params.get("lb_id").cloned().unwrap_or_default();
            let before = account.balancers.len();
            account.balancers.retain(|b| b.id != id);
            if account.balancers.len() < before {
                Reply::no_content()
            } else {
                Reply::not_found()
            }
        }
        _ => Reply::error(
            501,
            "not_implemented",
            "this endpoint is not implemented by the fake",
        ),
    }
}

/// One page of `items` under `key`, with `links.pages` and `meta.total`.
fn paginate(call: &Call<'_>, key: &str, items: Vec<Value>, max_per_page: usize) -> Reply {
    let per_page = call
        .query("per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(20usize);
    let per_page = per_page.clamp(1, max_per_page.max(1));
    let page = call
        .query("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    let total = items.len();
    let last = total.div_ceil(per_page).max(1);
    let start = ((page - 1) * per_page).min(total);
    let chunk: Vec<Value> = items.into_iter().skip(start).take(per_page).collect();

    let link = |n: usize| {
        let mut url = url::Url::parse(&format!("{}{}", call.base_url, call.template)).ok();
        if let Some(url) = url.as_mut() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in call
                .query
                .iter()
                .filter(|(k, _)| k != "page" && k != "per_page")
            {
                pairs.append_pair(k, v);
            }
            pairs
                .append_pair("page", &n.to_string())
                .append_pair("per_page", &per_page.to_string());
        }
        url.map(String::from).unwrap_or_default()
    };
    let mut pages = serde_json::Map::new();
    if page < last {
        pages.insert("next".into(), json!(link(page + 1)));
        pages.insert("last".into(), json!(link(last)));
    }
    if page > 1 {
        pages.insert("first".into(), json!(link(1)));
        pages.insert("prev".into(), json!(link(page - 1)));
    }
    Reply::json(
        200,
        json!({ key: chunk, "links": { "pages": pages }, "meta": { "total": total } }),
    )
}

fn list_images(account: &mut Account, call: &Call<'_>) -> Reply {
    let private = call.query("private") == Some("true");
    let tag = call.query("tag_name");
    let indexes: Vec<usize> = (0..account.images.len())
        .filter(|&i| {
            let image = &account.images[i];
            (!private || !image.public) && tag.is_none_or(|t| image.tags.iter().any(|x| x == t))
        })
        .collect();
    for &i in &indexes {
        account.poll_image(i);
    }
    let images = indexes
        .iter()
        .map(|&i| account.image_json(&account.images[i]))
        .collect();
    paginate(call, "images", images, account.options.max_per_page)
}

fn get_image(account: &mut Account, call: &Call<'_>) -> Reply {
    let key = call.params.get("image_id").cloned().unwrap_or_default();
    let found = account
        .images
        .iter()
        .position(|i| i.id.to_string() == key || i.slug.as_deref() == Some(key.as_str()));
    match found {
        Some(index) => {
            account.poll_image(index);
            Reply::json(
                200,
                json!({ "image": account.image_json(&account.images[index]) }),
            )
        }
        None => Reply::not_found(),
    }
}

fn create_image(account: &mut Account, call: &Call<'_>) -> Reply {
    let body = call.body.cloned().unwrap_or_default();
    let text = |key: &str| {
        body.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let region = text("region");
    if !account.region_exists(&region) {
        return Reply::unprocessable("region is not available");
    }

    let id = account.add_image(&text("name"), Some(&region), "NEW");
    if let Some(image) = account.images.iter_mut().find(|i| i.id == id) {
        image.description = text("description");
        image.distribution = Some(text("distribution"))
            .filter(|d| !d.is_empty())
            .unwrap_or("Unknown".into());
        image.tags = body
            .get("tags")
            .and_then(Value::as_array)
            .map(|t| {
                t.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
    }
    let image = account
        .images
        .iter()
        .find(|i| i.id == id)
        .map(|i| account.image_json(i));
    Reply::json(202, json!({ "image": image }))
}

fn create_droplets(account: &mut Account, call: &Call<'_>) -> Reply {
    let body = call.body.cloned().unwrap_or_default();
    let names: Vec<String> = match (body.get("names"), body.get("name")) {
        (Some(Value::Array(names)), _) => names
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        (_, Some(Value::String(name))) => vec![name.clone()],
        _ => return Reply::unprocessable("name or names is required"),
    };
    if names.is_empty() || names.len() > 10 {
        return Reply::unprocessable("between 1 and 10 names are allowed");
    }

    let region = body
        .get("region")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let size = body
        .get("size")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if !account.region_exists(&region) || !account.size_exists(&size) {
        return Reply::unprocessable("region or size is not available");
    }
    let image = account.images.iter().find(|i| match body.get("image") {
        Some(Value::Number(n)) => n.as_u64() == Some(i.id),
        Some(Value::String(s)) => i.slug.as_deref() == Some(s.as_str()),
        _ => false,
    });
    let Some(image) = image.filter(|i| i.status == "available") else {
        return Reply::unprocessable("You specified an invalid image for Droplet creation.");
    };
    let image_id = image.id;

    for key in body
        .get("ssh_keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let known = account.keys.iter().any(|k| match key {
            Value::Number(n) => n.as_u64() == Some(k.id),
            Value::String(s) => *s == k.fingerprint,
            _ => false,
        });
        if !known {
            return Reply::unprocessable("You specified an invalid SSH key for Droplet creation.");
        }
    }
    let user_data = body
        .get("user_data")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if user_data.as_ref().is_some_and(|u| u.len() > 64 * 1024) {
        return Reply::unprocessable("user_data is limited to 64 KiB");
    }
    let tags: Vec<String> = body
        .get("tags")
        .and_then(Value::as_array)
        .map(|t| {
            t.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();

    let mut created = Vec::new();
    let mut actions = Vec::new();
    for name in names {
        let id = account.next_id();
        let droplet = DropletRecord {
            id,
            name,
            region: region.clone(),
            size: size.clone(),
            image_id,
            tags: tags.clone(),
            user_data: user_data.clone(),
            polls: 0,
            created_at: timestamp(),
        };
        created.push(account.droplet_json(&droplet));
        account.droplets.push(droplet);

        let action = account.next_id();
        account.actions.push((action, id, region.clone()));
        let href = format!("{}/v2/actions/{action}", call.base_url);
        actions.push(json!({ "id": action, "rel": "create", "href": href }));
    }
    Reply::json(
        202,
        json!({ "droplets": created, "links": { "actions": actions } }),
    )
}

fn create_balancer(account: &mut Account, call: &Call<'_>) -> Reply {
    let body = call.body.cloned().unwrap_or_default();
    let region = body
        .get("region")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if !account.region_exists(&region) {
        return Reply::unprocessable("region is not available");
    }
    let id = format!("4de7ac8b-495b-4884-9a69-{:012x}", account.next_id());
    let balancer = BalancerRecord {
        id,
        name: body
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("lb")
            .to_owned(),
        region,
        tag: body.get("tag").and_then(Value::as_str).map(str::to_owned),
        droplet_ids: body
            .get("droplet_ids")
            .and_then(Value::as_array)
            .map(|ids| ids.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default(),
        forwarding_rules: body.get("forwarding_rules").cloned().unwrap_or(json!([])),
        health_check: body.get("health_check").cloned().unwrap_or(json!({})),
        polls: 0,
        created_at: timestamp(),
    };
    let value = account.balancer_json(&balancer);
    account.balancers.push(balancer);
    Reply::json(202, json!({ "load_balancer": value }))
}

/// Reads droplets matching `filter`, moving each along its lifecycle.
fn poll_droplets(account: &mut Account, filter: impl Fn(&DropletRecord) -> bool) -> Vec<Value> {
    let mut out = Vec::new();
    for index in 0..account.droplets.len() {
        if filter(&account.droplets[index]) {
            account.droplets[index].polls += 1;
            out.push(account.droplet_json(&account.droplets[index]));
        }
    }
    out
}

/// Reads balancers matching `filter`, moving each along its lifecycle.
fn poll_balancers(account: &mut Account, filter: impl Fn(&BalancerRecord) -> bool) -> Vec<Value> {
    let mut out = Vec::new();
    for index in 0..account.balancers.len() {
        if filter(&account.balancers[index]) {
            account.balancers[index].polls += 1;
            out.push(account.balancer_json(&account.balancers[index]));
        }
    }
    out
}
