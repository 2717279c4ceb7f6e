//! Pagination as GitHub does it: `per_page` (default 30, at most 100) and `page` (from 1) in
//! the query, and a `Link` header with `first`, `prev`, `next` and `last` where they exist
//! (<https://docs.github.com/rest/using-the-rest-api/using-pagination-in-the-rest-api>).

use std::collections::HashMap;

use crate::wire::query_encode;

/// `per_page` when none is given, and the most GitHub serves.
const DEFAULT_PER_PAGE: usize = 30;
const MAX_PER_PAGE: usize = 100;

/// The page a request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PageRequest {
    per_page: usize,
    page: usize,
}

impl PageRequest {
    /// Reads `per_page` and `page` from the query; out-of-range or unreadable values fall back
    /// or are clamped, as GitHub does.
    pub(super) fn parse(query: &HashMap<String, String>) -> Self {
        let number = |name: &str| query.get(name).and_then(|v| v.trim().parse::<usize>().ok());
        Self {
            per_page: number("per_page")
                .filter(|n| *n > 0)
                .map_or(DEFAULT_PER_PAGE, |n| n.min(MAX_PER_PAGE)),
            page: number("page").filter(|n| *n > 0).unwrap_or(1),
        }
    }

    /// This page of `items`, and the `Link` header for it (`None` when everything fits on
    /// one page). `url` is the full URL of the list without `per_page` and `page`, and `query`
    /// the request's other parameters, which the links keep.
    pub(super) fn slice<'a, T>(
        &self,
        items: &'a [T],
        url: &str,
        query: &HashMap<String, String>,
    ) -> (&'a [T], Option<String>) {
        let last = items.len().div_ceil(self.per_page).max(1);
        let start = (self.page - 1)
            .saturating_mul(self.per_page)
            .min(items.len());
        let end = start.saturating_add(self.per_page).min(items.len());
        let page = &items[start..end];
        if last == 1 {
            return (page, None);
        }
        let mut kept: Vec<(&str, &str)> = query
            .iter()
            .filter(|(k, _)| *k != "page" && *k != "per_page")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        kept.sort_unstable();
        let per_page = self.per_page.to_string();
        let link = |page: usize, rel: &str| {
            let page = page.to_string();
            let mut pairs = kept.clone();
            pairs.extend([("per_page", per_page.as_str()), ("page", page.as_str())]);
            format!("<{url}?{}>; rel=\"{rel}\"", query_encode(&pairs))
        };
        let mut links = Vec::new();
        if self.page > 1 {
            links.push(link(self.page - 1, "prev"));
        }
        if self.page < last {
            links.push(link(self.page + 1, "next"));
            links.push(link(last, "last"));
        }
        if self.page > 1 {
            links.push(link(1, "first"));
        }
        (page, Some(links.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn sizes_are_defaulted_and_clamped() {
        let parse = |pairs: &[(&str, &str)]| PageRequest::parse(&query(pairs));
        let page = |per_page, page| PageRequest { per_page, page };
        assert_eq!(parse(&[]), page(30, 1));
        assert_eq!(parse(&[("per_page", "500"), ("page", "3")]), page(100, 3));
        assert_eq!(parse(&[("per_page", "0"), ("page", "x")]), page(30, 1));
    }

    #[test]
    fn links_keep_other_parameters_and_name_next_and_last() {
        let items: Vec<u32> = (1..=5).collect();
        let q = query(&[("state", "all"), ("per_page", "2"), ("page", "2")]);
        let (page, link) = PageRequest::parse(&q).slice(&items, "http://x/issues", &q);
        assert_eq!(page, [3, 4]);
        assert_eq!(
            link.unwrap(),
            "<http://x/issues?state=all&per_page=2&page=1>; rel=\"prev\", \
             <http://x/issues?state=all&per_page=2&page=3>; rel=\"next\", \
             <http://x/issues?state=all&per_page=2&page=3>; rel=\"last\", \
             <http://x/issues?state=all&per_page=2&page=1>; rel=\"first\""
        );
        let q = query(&[("per_page", "2"), ("page", "9")]);
        let (page, _) = PageRequest::parse(&q).slice(&items, "http://x/issues", &q);
        assert!(page.is_empty(), "past the end: an empty page");
        let q = query(&[]);
        assert_eq!(
            PageRequest::parse(&q).slice(&items, "u", &q),
            (&items[..], None)
        );
    }
}
