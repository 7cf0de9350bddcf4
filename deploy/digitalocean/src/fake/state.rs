//! The fake's in-memory account: images, droplets, keys, sizes, regions, load balancers,
//! actions, and the JSON the API would return for each.
//!
//! Resources move through their lifecycles as they are polled: a custom image is `NEW`
//! until it has been read [`super::FakeOptions::image_polls_until_ready`] times, then
//! `available` (or `deleted` with an `error_message`); a droplet is `new` without an
//! address until read `droplet_polls_until_active` times, then `active` with a public IPv4.

use std::net::Ipv4Addr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::FakeOptions;

/// A custom or public image.
#[derive(Debug, Clone)]
pub(crate) struct ImageRecord {
    pub id: u64,
    pub name: String,
    pub slug: Option<String>,
    pub public: bool,
    pub distribution: String,
    pub description: String,
    pub region: String,
    pub tags: Vec<String>,
    pub status: String,
    pub error_message: String,
    pub polls: u32,
    pub created_at: String,
}

/// A droplet, with the user data exactly as received.
#[derive(Debug, Clone)]
pub(crate) struct DropletRecord {
    pub id: u64,
    pub name: String,
    pub region: String,
    pub size: String,
    pub image_id: u64,
    pub tags: Vec<String>,
    pub user_data: Option<String>,
    pub polls: u32,
    pub created_at: String,
}

/// An SSH key.
#[derive(Debug, Clone)]
pub(crate) struct KeyRecord {
    pub id: u64,
    pub name: String,
    pub fingerprint: String,
    pub public_key: String,
}

/// A load balancer.
#[derive(Debug, Clone)]
pub(crate) struct BalancerRecord {
    pub id: String,
    pub name: String,
    pub region: String,
    pub tag: Option<String>,
    pub droplet_ids: Vec<u64>,
    pub forwarding_rules: Value,
    pub health_check: Value,
    pub polls: u32,
    pub created_at: String,
}

/// Everything the fake account holds.
#[derive(Debug)]
pub(crate) struct Account {
    pub options: FakeOptions,
    next_id: u64,
    pub images: Vec<ImageRecord>,
    pub droplets: Vec<DropletRecord>,
    pub keys: Vec<KeyRecord>,
    pub balancers: Vec<BalancerRecord>,
    pub actions: Vec<(u64, u64, String)>,
}

/// Regions the fake offers: slug, name, available.
const REGIONS: &[(&str, &str, bool)] = &[
    ("ams3", "Amsterdam 3", true),
    ("fra1", "Frankfurt 1", true),
    ("nyc3", "New York 3", true),
    ("sfo3", "San Francisco 3", true),
    ("nyc1", "New York 1", false),
];

/// Sizes the fake offers: slug, MiB, vCPUs, disk GB, $/month.
const SIZES: &[(&str, u64, u64, u64, f64)] = &[
    ("s-1vcpu-1gb", 1024, 1, 25, 6.0),
    ("s-1vcpu-2gb", 2048, 1, 50, 12.0),
    ("s-2vcpu-2gb", 2048, 2, 60, 18.0),
    ("s-2vcpu-4gb", 4096, 2, 80, 24.0),
    ("s-4vcpu-8gb", 8192, 4, 160, 48.0),
    ("c-4", 8192, 4, 50, 84.0),
    ("g-2vcpu-8gb", 8192, 2, 25, 63.0),
    ("c-2", 4096, 2, 25, 42.0),
];

impl Account {
    pub(crate) fn new(options: FakeOptions) -> Self {
        let mut account = Self {
            options,
            next_id: 1000,
            images: Vec::new(),
            droplets: Vec::new(),
            keys: Vec::new(),
            balancers: Vec::new(),
            actions: Vec::new(),
        };
        let ubuntu = account.add_image("Ubuntu 24.04 (LTS) x64", None, "available");
        if let Some(image) = account.images.iter_mut().find(|i| i.id == ubuntu) {
            image.slug = Some("ubuntu-24-04-x64".into());
            image.public = true;
            image.distribution = "Ubuntu".into();
        }
        for (name, key) in account.options.ssh_keys.clone() {
            account.add_key(&name, &key);
        }
        account
    }

    pub(crate) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Adds a ready or pending custom image in the first region; returns its id.
    pub(crate) fn add_image(&mut self, name: &str, region: Option<&str>, status: &str) -> u64 {
        let id = self.next_id();
        self.images.push(ImageRecord {
            id,
            name: name.to_owned(),
            slug: None,
            public: false,
            distribution: "CoreOS".into(),
            description: String::new(),
            region: region.unwrap_or("fra1").to_owned(),
            tags: Vec::new(),
            status: status.to_owned(),
            error_message: String::new(),
            polls: 0,
            created_at: timestamp(),
        });
        id
    }

    pub(crate) fn add_key(&mut self, name: &str, public_key: &str) -> u64 {
        let id = self.next_id();
        let fingerprint = (0..16u64)
            .map(|i| format!("{:02x}", (id.wrapping_mul(31).wrapping_add(i * 7)) % 256))
            .collect::<Vec<_>>()
            .join(":");
        let key = KeyRecord {
            id,
            name: name.into(),
            fingerprint,
            public_key: public_key.into(),
        };
        self.keys.push(key);
        id
    }

    pub(crate) fn region_exists(&self, slug: &str) -> bool {
        REGIONS
            .iter()
            .any(|(s, _, available)| *s == slug && *available)
    }

    pub(crate) fn size_exists(&self, slug: &str) -> bool {
        SIZES.iter().any(|(s, ..)| *s == slug)
    }

    /// Reading an image moves its import along.
    pub(crate) fn poll_image(&mut self, index: usize) {
        let ready_after = self.options.image_polls_until_ready;
        let error = self.options.image_import_error.clone();
        let image = &mut self.images[index];
        if image.status != "NEW" {
            return;
        }
        image.polls += 1;
        if image.polls >= ready_after {
            match error {
                Some(message) => {
                    image.status = "deleted".into();
                    image.error_message = message;
                }
                None => image.status = "available".into(),
            }
        }
    }

    pub(crate) fn image_json(&self, image: &ImageRecord) -> Value {
        let ready = image.status == "available";
        json!({
            "id": image.id,
            "name": image.name,
            "type": if image.public { "base" } else { "custom" },
            "distribution": image.distribution,
            "slug": image.slug,
            "public": image.public,
            "regions": if ready { vec![image.region.clone()] } else { Vec::new() },
            "created_at": image.created_at,
            "min_disk_size": if ready { Some(15) } else { None },
            "size_gigabytes": if ready { Some(3.21) } else { None },
            "description": image.description,
            "tags": image.tags,
            "status": image.status,
            "error_message": image.error_message,
        })
    }

    pub(crate) fn droplet_active(&self, droplet: &DropletRecord) -> bool {
        droplet.polls >= self.options.droplet_polls_until_active
    }

    pub(crate) fn droplet_json(&self, droplet: &DropletRecord) -> Value {
        let active = self.droplet_active(droplet);
        let size = SIZES
            .iter()
            .find(|(s, ..)| *s == droplet.size)
            .copied()
            .unwrap_or(SIZES[0]);
        let image = self.images.iter().find(|i| i.id == droplet.image_id);
        let v4 = if active {
            vec![network_v4(self.options.droplet_ipv4)]
        } else {
            Vec::new()
        };
        json!({
            "id": droplet.id,
            "name": droplet.name,
            "memory": size.1,
            "vcpus": size.2,
            "disk": size.3,
            "locked": false,
            "status": if active { "active" } else { "new" },
            "created_at": droplet.created_at,
            "features": ["droplet_agent"],
            "backup_ids": [],
            "next_backup_window": null,
            "snapshot_ids": [],
            "image": image.map(|i| self.image_json(i)).unwrap_or(json!({})),
            "volume_ids": [],
            "size": size_json(size),
            "size_slug": droplet.size,
            "networks": { "v4": v4, "v6": [] },
            "region": region_json(&droplet.region),
            "tags": droplet.tags,
            "vpc_uuid": "5a4981aa-9653-4bd1-bef5-d6bff52042e4",
        })
    }

    pub(crate) fn key_json(key: &KeyRecord) -> Value {
        json!({
            "id": key.id,
            "name": key.name,
            "fingerprint": key.fingerprint,
            "public_key": key.public_key,
        })
    }

    pub(crate) fn balancer_active(&self, balancer: &BalancerRecord) -> bool {
        balancer.polls >= self.options.load_balancer_polls_until_active
    }

    pub(crate) fn balancer_json(&self, balancer: &BalancerRecord) -> Value {
        let active = self.balancer_active(balancer);
        let droplet_ids: Vec<u64> = match &balancer.tag {
            Some(tag) => self
                .droplets
                .iter()
                .filter(|d| d.tags.contains(tag))
                .map(|d| d.id)
                .collect(),
            None => balancer.droplet_ids.clone(),
        };
        let mut value = json!({
            "id": balancer.id,
            "name": balancer.name,
            "ip": if active { self.options.droplet_ipv4.to_string() } else { String::new() },
            "status": if active { "active" } else { "new" },
            "created_at": balancer.created_at,
            "forwarding_rules": balancer.forwarding_rules,
            "health_check": balancer.health_check,
            "sticky_sessions": { "type": "none" },
            "region": region_json(&balancer.region),
            "droplet_ids": droplet_ids,
            "size_unit": 1,
            "redirect_http_to_https": false,
            "enable_proxy_protocol": false,
            "enable_backend_keepalive": false,
            "disable_lets_encrypt_dns_records": false,
            "network": "EXTERNAL",
        });
        if let Some(tag) = &balancer.tag {
            value["tag"] = json!(tag);
        }
        value
    }

    pub(crate) fn action_json(&self, id: u64, droplet: u64, region: &str) -> Value {
        json!({
            "id": id,
            "status": "completed",
            "type": "create",
            "started_at": timestamp(),
            "completed_at": timestamp(),
            "resource_id": droplet,
            "resource_type": "droplet",
            "region": region_json(region),
            "region_slug": region,
        })
    }

    pub(crate) fn tag_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .droplets
            .iter()
            .flat_map(|d| d.tags.iter())
            .chain(self.images.iter().flat_map(|i| i.tags.iter()))
            .cloned()
            .collect();
        names.sort();
        names.dedup();
        names
    }

    pub(crate) fn tag_json(&self, name: &str) -> Value {
        let droplets = self
            .droplets
            .iter()
            .filter(|d| d.tags.iter().any(|t| t == name))
            .count();
        let images = self
            .images
            .iter()
            .filter(|i| i.tags.iter().any(|t| t == name))
            .count();
        json!({
            "name": name,
            "resources": {
                "count": droplets + images,
                "droplets": { "count": droplets },
                "imgages": { "count": images },
                "volumes": { "count": 0 },
                "volume_snapshots": { "count": 0 },
                "databases": { "count": 0 },
            }
        })
    }
}

pub(crate) fn regions_json() -> Vec<Value> {
    REGIONS.iter().map(|(slug, ..)| region_json(slug)).collect()
}

pub(crate) fn sizes_json() -> Vec<Value> {
    SIZES.iter().copied().map(size_json).collect()
}

fn region_json(slug: &str) -> Value {
    let (name, available) = REGIONS
        .iter()
        .find(|(s, ..)| *s == slug)
        .map(|(_, name, available)| (*name, *available))
        .unwrap_or(("Unknown", false));
    json!({
        "slug": slug,
        "name": name,
        "available": available,
        "features": ["backups", "ipv6", "metadata", "install_agent"],
        "sizes": SIZES.iter().map(|(s, ..)| *s).collect::<Vec<_>>(),
    })
}

fn size_json((slug, memory, vcpus, disk, monthly): (&str, u64, u64, u64, f64)) -> Value {
    json!({
        "slug": slug,
        "memory": memory,
        "vcpus": vcpus,
        "disk": disk,
        "transfer": 1.0 + (memory / 2048) as f64,
        "price_monthly": monthly,
        "price_hourly": (monthly / 672.0 * 100_000.0).round() / 100_000.0,
        "regions": REGIONS.iter().filter(|r| r.2).map(|r| r.0).collect::<Vec<_>>(),
        "available": true,
        "description": "Basic",
    })
}

fn network_v4(ip: Ipv4Addr) -> Value {
    json!({
        "ip_address": ip.to_string(),
        "netmask": "255.255.255.0",
        "gateway": Ipv4Addr::from(u32::from(ip) & 0xffff_ff00 | 1).to_string(),
        "type": "public",
    })
}

/// The current time as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn timestamp() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339() {
        let stamp = timestamp();
        assert_eq!(stamp.len(), 20, "{stamp}");
        assert!(stamp.starts_with("20") && stamp.ends_with('Z'), "{stamp}");
    }
}
