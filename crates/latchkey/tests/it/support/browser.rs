//! A cookie-keeping client that reads HTML forms the way a person's browser submits them,
//! without following redirects, so tests see every hop.

use std::collections::BTreeMap;

use reqwest::header::LOCATION;

use super::TestServer;

/// A browser: its own cookie jar, no automatic redirects.
pub(crate) struct Browser {
    pub(crate) http: reqwest::Client,
}

/// An HTML page's status, headers and body.
pub(crate) struct Page {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) html: String,
}

impl Page {
    /// The `<input>`s of the page's form(s): name → value (HTML entities decoded).
    pub(crate) fn inputs(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for tag in self.html.split("<input").skip(1) {
            let tag = tag.split('>').next().unwrap_or_default();
            if let Some(name) = attribute(tag, "name") {
                out.insert(name, attribute(tag, "value").unwrap_or_default());
            }
        }
        out
    }

    pub(crate) fn location(&self) -> Option<String> {
        self.headers.get(LOCATION).map(|v| v.to_str().unwrap().to_owned())
    }
}

/// The parameters of a redirect to the client (query, or fragment for implicit).
pub(crate) fn redirect_params(location: &str) -> std::collections::HashMap<String, String> {
    let url = url::Url::parse(location).unwrap();
    let source = url
        .fragment()
        .map(str::to_owned)
        .unwrap_or_else(|| url.query().unwrap_or_default().to_owned());
    url::form_urlencoded::parse(source.as_bytes())
        .into_owned()
        .collect()
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let rest = tag.get(start..)?;
    let end = rest.find('"')?;
    Some(unescape(rest.get(..end)?))
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let Some(end) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = &tail[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => out.push(c),
            None => out.push_str(&tail[..=end]),
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

impl Browser {
    pub(crate) fn new() -> Self {
        Self::from(std::net::Ipv4Addr::LOCALHOST)
    }

    /// A browser on another loopback address (127.0.0.0/8), as a different client address.
    pub(crate) fn from(address: std::net::Ipv4Addr) -> Self {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .local_address(std::net::IpAddr::V4(address))
            .build()
            .unwrap();
        Self { http }
    }

    async fn page(response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        Page {
            status,
            headers,
            html: response.text().await.unwrap_or_default(),
        }
    }

    pub(crate) async fn get(&self, url: &str) -> Page {
        Self::page(self.http.get(url).send().await.unwrap()).await
    }

    /// Like [`Browser::get`], but `None` when the server cannot be reached.
    pub(crate) async fn try_get(&self, url: &str) -> Option<Page> {
        Some(Self::page(self.http.get(url).send().await.ok()?).await)
    }

    pub(crate) async fn post(&self, url: &str, form: &[(String, String)]) -> Page {
        Self::page(self.http.post(url).form(form).send().await.unwrap()).await
    }

    /// Submits the page's form to `action` with its inputs, plus/overriding `extra`.
    pub(crate) async fn submit(&self, base: &str, page: &Page, action: &str, extra: &[(&str, &str)]) -> Page {
        let mut fields = page.inputs();
        for (name, value) in extra {
            fields.insert((*name).to_owned(), (*value).to_owned());
        }
        let form: Vec<(String, String)> = fields.into_iter().collect();
        self.post(&format!("{base}{action}"), &form).await
    }

    /// Runs the flow at `authorize_url`, logging in and allowing consent as needed, and
    /// returns the parameters of the redirect to the client.
    pub(crate) async fn approve(
        &self,
        server: &TestServer,
        authorize_url: &str,
        user: (&str, &str),
    ) -> std::collections::HashMap<String, String> {
        let mut page = self.authorize(server, authorize_url, user).await;
        if page.status == 200 && page.html.contains(r#"value="allow""#) {
            page = self
                .submit(&server.base, &page, "/oauth2/authorize", &[("decision", "allow")])
                .await;
        }
        let location = page
            .location()
            .unwrap_or_else(|| panic!("no redirect: {} {}", page.status, page.html));
        redirect_params(&location)
    }

    /// Starts at `authorize_url` and follows our own redirects through login (with these
    /// credentials) until the page is the consent page or the browser is sent to the client.
    /// Returns the last page: the consent page (200) or the redirect to the client (303).
    pub(crate) async fn authorize(
        &self,
        server: &TestServer,
        authorize_url: &str,
        user: (&str, &str),
    ) -> Page {
        let mut page = self.get(authorize_url).await;
        for _ in 0..5 {
            let Some(location) = page.location() else {
                return page;
            };
            if !location.starts_with('/') {
                return page;
            }
            let next = self.get(&server.url(&location)).await;
            if location.starts_with("/login") {
                assert_eq!(next.status, 200);
                page = self
                    .submit(
                        &server.base,
                        &next,
                        "/login",
                        &[("username", user.0), ("password", user.1)],
                    )
                    .await;
            } else {
                page = next;
            }
        }
        page
    }
}
