//! Building the redirect back to the client: parameters in the query (code) or the fragment
//! (implicit), always with `state` when the client sent one and `iss` (RFC 9207).

/// `redirect_uri` with `params` appended to its query, or set as its fragment.
pub fn redirect_url(redirect_uri: &str, fragment: bool, params: &[(&str, &str)]) -> String {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return redirect_uri.to_owned();
    };
    if fragment {
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        url.set_fragment(Some(&encoded));
    } else {
        url.query_pairs_mut().extend_pairs(params);
    }
    url.into()
}

#[cfg(test)]
mod tests {
    use super::redirect_url;

    #[test]
    fn parameters_join_an_existing_query_or_form_the_fragment() {
        assert_eq!(
            redirect_url(
                "https://app.example.com/cb?tenant=a",
                false,
                &[("code", "x y"), ("state", "s")]
            ),
            "https://app.example.com/cb?tenant=a&code=x+y&state=s"
        );
        assert_eq!(
            redirect_url(
                "https://app.example.com/cb",
                true,
                &[("access_token", "t"), ("state", "&")]
            ),
            "https://app.example.com/cb#access_token=t&state=%26"
        );
    }
}
