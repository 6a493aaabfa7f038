//! [`RequestLimits`] on product fields, and the checks the service applies.

use framecast_proto::ecommerce::Product;
use tonic::Status;

/// Default for [`RequestLimits::max_id_bytes`]: 128 bytes (a UUID takes 36).
pub const DEFAULT_MAX_ID_BYTES: usize = 128;
/// Default for [`RequestLimits::max_name_bytes`]: 256 bytes.
pub const DEFAULT_MAX_NAME_BYTES: usize = 256;
/// Default for [`RequestLimits::max_description_bytes`]: 4096 bytes.
pub const DEFAULT_MAX_DESCRIPTION_BYTES: usize = 4096;
/// Default for [`RequestLimits::default_page_size`]: 100 products.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// Default for [`RequestLimits::max_page_size`]: 1000 products.
pub const DEFAULT_MAX_PAGE_SIZE: usize = 1000;
/// Default for [`RequestLimits::max_page_bytes`]: 1 MiB, a quarter of the
/// 4 MiB a stock gRPC client accepts in one answer.
pub const DEFAULT_MAX_PAGE_BYTES: usize = 1 << 20;

/// Caps on the strings of a product, in bytes of UTF-8.
///
/// A request over a limit is refused with `INVALID_ARGUMENT` naming the
/// field. The whole request is also capped in size by
/// [`ServerConfig::max_request_bytes`](crate::ServerConfig::max_request_bytes),
/// checked before the message is decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestLimits {
    /// Longest product id; see [`check_id`] for the id format.
    pub max_id_bytes: usize,
    /// Longest product name.
    pub max_name_bytes: usize,
    /// Longest product description.
    pub max_description_bytes: usize,
    /// How many products a `listProducts` page holds when the request asks
    /// for 0.
    pub default_page_size: usize,
    /// The most products one `listProducts` page holds; a request for more
    /// gets this many.
    pub max_page_size: usize,
    /// The most bytes of encoded products one `listProducts` page holds; a
    /// page ends early (with a token for the next) rather than exceed it.
    pub max_page_bytes: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self {
            max_id_bytes: DEFAULT_MAX_ID_BYTES,
            max_name_bytes: DEFAULT_MAX_NAME_BYTES,
            max_description_bytes: DEFAULT_MAX_DESCRIPTION_BYTES,
            default_page_size: DEFAULT_PAGE_SIZE,
            max_page_size: DEFAULT_MAX_PAGE_SIZE,
            max_page_bytes: DEFAULT_MAX_PAGE_BYTES,
        }
    }
}

/// The number of products a `listProducts` page asks for, as served:
/// `page_size` 0 is the default, more than the maximum is the maximum, and
/// a negative one is refused with `INVALID_ARGUMENT`.
pub fn page_size(page_size: i32, limits: &RequestLimits) -> Result<usize, Status> {
    match usize::try_from(page_size) {
        Ok(0) => Ok(limits
            .default_page_size
            .clamp(1, limits.max_page_size.max(1))),
        Ok(n) => Ok(n.min(limits.max_page_size.max(1))),
        Err(_) => Err(invalid(
            "page_size",
            format!("must be zero or more; got {page_size}"),
        )),
    }
}

/// Checks a product id against the id format: 1 to `max_id_bytes` characters,
/// each an ASCII letter or digit or one of `-`, `_`, `.`, `~`, `:`.
///
/// That set covers UUIDs and the usual SKU styles, and keeps ids safe to
/// print, to pass on a command line and to put in a URL unescaped.
/// `field` names the field in the error (`id` in a `Product`, `value` in a
/// `ProductID`).
pub fn check_id(id: &str, field: &str, limits: &RequestLimits) -> Result<(), Status> {
    if id.is_empty() {
        return Err(invalid(field, "must not be empty".into()));
    }
    if id.len() > limits.max_id_bytes {
        return Err(too_long(field, id.len(), limits.max_id_bytes));
    }
    if let Some(bad) = id.chars().find(|&c| !is_id_char(c)) {
        return Err(invalid(
            field,
            format!(
                "character {bad:?} is not allowed in a product id \
                 (allowed: ASCII letters, digits and - _ . ~ :)"
            ),
        ));
    }
    Ok(())
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | ':')
}

/// Checks everything in `product` but the id: a name with at least one
/// non-whitespace character, strings within `limits`, and a price that is a
/// finite number, zero or more.
pub fn check_product(product: &Product, limits: &RequestLimits) -> Result<(), Status> {
    if product.name.trim().is_empty() {
        return Err(invalid("name", "must not be empty".into()));
    }
    if product.name.len() > limits.max_name_bytes {
        return Err(too_long("name", product.name.len(), limits.max_name_bytes));
    }
    if product.description.len() > limits.max_description_bytes {
        return Err(too_long(
            "description",
            product.description.len(),
            limits.max_description_bytes,
        ));
    }
    let price = product.price;
    if !price.is_finite() || price < 0.0 {
        return Err(invalid(
            "price",
            format!("must be a finite number, zero or more; got {price}"),
        ));
    }
    Ok(())
}

fn invalid(field: &str, why: String) -> Status {
    Status::invalid_argument(format!("{field}: {why}"))
}

fn too_long(field: &str, len: usize, limit: usize) -> Status {
    invalid(field, format!("{len} bytes exceeds the {limit}-byte limit"))
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    fn product() -> Product {
        Product {
            id: String::new(),
            name: "lamp".into(),
            description: String::new(),
            price: 0.0,
        }
    }

    fn refused(p: &Product) -> String {
        let status = check_product(p, &RequestLimits::default()).unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        status.message().to_owned()
    }

    #[test]
    fn a_plain_product_passes() {
        check_product(&product(), &RequestLimits::default()).unwrap();
        let mut p = product();
        p.name = "n".repeat(DEFAULT_MAX_NAME_BYTES);
        p.description = "d".repeat(DEFAULT_MAX_DESCRIPTION_BYTES);
        p.price = f32::MAX;
        check_product(&p, &RequestLimits::default()).unwrap();
    }

    #[test]
    fn empty_or_blank_names_are_refused() {
        for name in ["", " ", "\t\n"] {
            let mut p = product();
            p.name = name.into();
            assert_eq!(refused(&p), "name: must not be empty");
        }
    }

    #[test]
    fn bad_prices_are_refused_naming_the_field() {
        for price in [-0.01, -1.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut p = product();
            p.price = price;
            assert!(refused(&p).starts_with("price: "), "{price}");
        }
    }

    #[test]
    fn long_strings_are_refused_naming_field_and_limit() {
        let mut p = product();
        p.name = "é".repeat(DEFAULT_MAX_NAME_BYTES / 2 + 1);
        assert_eq!(refused(&p), "name: 258 bytes exceeds the 256-byte limit");
        let mut p = product();
        p.description = "d".repeat(DEFAULT_MAX_DESCRIPTION_BYTES + 1);
        assert_eq!(
            refused(&p),
            "description: 4097 bytes exceeds the 4096-byte limit"
        );
    }

    #[test]
    fn limits_are_configurable() {
        let limits = RequestLimits {
            max_name_bytes: 3,
            ..RequestLimits::default()
        };
        let mut p = product();
        p.name = "abcd".into();
        assert!(check_product(&p, &limits).is_err());
        p.name = "abc".into();
        check_product(&p, &limits).unwrap();
    }

    #[test]
    fn page_sizes_are_defaulted_and_capped() {
        let limits = RequestLimits::default();
        assert_eq!(page_size(0, &limits).unwrap(), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(7, &limits).unwrap(), 7);
        assert_eq!(page_size(i32::MAX, &limits).unwrap(), DEFAULT_MAX_PAGE_SIZE);
        let status = page_size(-1, &limits).unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "page_size: must be zero or more; got -1");
    }

    #[test]
    fn id_format() {
        let limits = RequestLimits::default();
        for ok in ["a", "6f1c2a9e-0b7d-4c3a-9f1e-2d3c4b5a6978", "SKU:42.b~x_y"] {
            check_id(ok, "id", &limits).unwrap();
        }
        let long = "i".repeat(DEFAULT_MAX_ID_BYTES + 1);
        for (bad, msg) in [
            ("", "value: must not be empty"),
            (long.as_str(), "value: 129 bytes exceeds the 128-byte limit"),
            ("a b", "value: character ' ' is not allowed"),
            ("a/b", "value: character '/' is not allowed"),
            ("é", "value: character 'é' is not allowed"),
        ] {
            let status = check_id(bad, "value", &limits).unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument);
            assert!(status.message().starts_with(msg), "{}", status.message());
        }
    }
}
