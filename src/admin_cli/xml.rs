//! The XML answers of the IAM query API as a generic tree of elements.
//!
//! Owns: parsing a response body into `Element`s (local names only, since
//! IAM's one namespace says nothing a reader needs) and picking fields out of
//! the tree. Knows nothing about which fields an operation returns; the
//! resource modules do.

use quick_xml::events::Event;
use quick_xml::Reader;

/// Nesting deeper than this is not an IAM answer; refusing it bounds the work
/// a hostile or broken server can cause.
const DEPTH_MAX: usize = 64;

/// One XML element: its local name, its text (for a leaf; whitespace between
/// child elements is dropped) and its child elements in document order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// An element with no text and no children (what an answer without a
    /// result element stands for).
    pub fn empty(name: &str) -> Self {
        Element {
            name: name.to_owned(),
            ..Element::default()
        }
    }

    /// The first child with this name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|child| child.name == name)
    }

    /// The text of the first child with this name.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|child| child.text.as_str())
    }

    /// The first element with this name, this one or any descendant,
    /// depth first.
    pub fn find(&self, name: &str) -> Option<&Element> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|child| child.find(name))
    }

    /// The `<member>` entries of an IAM list element (`<Users><member>…`).
    pub fn members(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter(|child| child.name == "member")
    }

    /// Whether this element has no child elements.
    pub fn is_leaf(&self) -> bool {
        self.children.is_empty()
    }
}

/// Parses a whole document into its root element.
pub fn parse(body: &[u8]) -> Result<Element, String> {
    let mut reader = Reader::from_reader(body);
    // Open elements, innermost last. The root stays at the bottom until its end tag.
    let mut open: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|err| format!("malformed XML: {err}"))?;
        match event {
            Event::Start(start) => {
                if root.is_some() {
                    return Err("malformed XML: content after the root element".into());
                }
                if open.len() >= DEPTH_MAX {
                    return Err("malformed XML: nested too deeply".into());
                }
                open.push(Element::empty(&local_name(start.local_name().as_ref())?));
            }
            Event::Empty(start) => {
                let element = Element::empty(&local_name(start.local_name().as_ref())?);
                close(&mut open, &mut root, element)?;
            }
            Event::End(_) => {
                let mut element = open
                    .pop()
                    .ok_or("malformed XML: end tag without a start tag")?;
                if !element.children.is_empty() {
                    element.text.clear();
                }
                close(&mut open, &mut root, element)?;
            }
            Event::Text(text) => {
                let text = text
                    .unescape()
                    .map_err(|err| format!("malformed XML text: {err}"))?;
                if let Some(current) = open.last_mut() {
                    current.text.push_str(&text);
                }
            }
            Event::CData(data) => {
                let data = data.into_inner();
                let data =
                    std::str::from_utf8(&data).map_err(|_| "XML CDATA is not UTF-8".to_owned())?;
                if let Some(current) = open.last_mut() {
                    current.text.push_str(data);
                }
            }
            Event::Eof => break,
            // Declarations, comments, processing instructions, doctypes: nothing to keep.
            _ => {}
        }
    }
    if !open.is_empty() {
        return Err("malformed XML: the document ends inside an element".into());
    }
    root.ok_or_else(|| "the answer holds no XML element".into())
}

/// Attaches a finished element to its parent, or makes it the root.
fn close(open: &mut [Element], root: &mut Option<Element>, element: Element) -> Result<(), String> {
    match open.last_mut() {
        Some(parent) => parent.children.push(element),
        None if root.is_none() => *root = Some(element),
        None => return Err("malformed XML: more than one root element".into()),
    }
    Ok(())
}

fn local_name(bytes: &[u8]) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "an XML element name is not UTF-8".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST_USERS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListUsersResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <ListUsersResult>
    <Users>
      <member>
        <UserId>AID2MAB8DPLSRHEXAMPLE</UserId>
        <Path>/division_abc/subdivision_xyz/engineering/</Path>
        <UserName>Andrew</UserName>
        <Arn>arn:aws:iam::123456789012:user/division_abc/subdivision_xyz/engineering/Andrew</Arn>
      </member>
      <member>
        <UserName>Jackie &amp; Co</UserName>
        <Tags/>
      </member>
    </Users>
    <IsTruncated>false</IsTruncated>
  </ListUsersResult>
  <ResponseMetadata>
    <RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId>
  </ResponseMetadata>
</ListUsersResponse>"#;

    #[test]
    fn reads_an_iam_list_answer_into_a_tree() {
        let root = parse(LIST_USERS.as_bytes()).expect("parses");
        assert_eq!(root.name, "ListUsersResponse");
        let result = root.child("ListUsersResult").expect("result");
        assert_eq!(result.child_text("IsTruncated"), Some("false"));
        let users: Vec<&Element> = result.child("Users").expect("users").members().collect();
        assert_eq!(users.len(), 2);
        assert_eq!(users[0].child_text("UserName"), Some("Andrew"));
        assert_eq!(
            users[0].child_text("Path"),
            Some("/division_abc/subdivision_xyz/engineering/")
        );
        // Entities are decoded; whitespace between elements is not text.
        assert_eq!(users[1].child_text("UserName"), Some("Jackie & Co"));
        assert_eq!(users[1].child("Tags").map(Element::is_leaf), Some(true));
        assert_eq!(result.child("Users").map(|u| u.text.as_str()), Some(""));
        assert_eq!(
            root.find("RequestId").map(|e| e.text.as_str()),
            Some("7a62c49f-347e-4fc4-9331-6e8eEXAMPLE")
        );
    }

    #[test]
    fn reads_an_error_answer_and_cdata() {
        let body = "<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchEntity</Code>\
                    <Message><![CDATA[The user <bob> cannot be found.]]></Message></Error>\
                    <RequestId>r1</RequestId></ErrorResponse>";
        let root = parse(body.as_bytes()).expect("parses");
        let error = root.find("Error").expect("error");
        assert_eq!(error.child_text("Code"), Some("NoSuchEntity"));
        assert_eq!(
            error.child_text("Message"),
            Some("The user <bob> cannot be found.")
        );
    }

    #[test]
    fn refuses_what_is_not_one_well_formed_element() {
        for bad in [
            "",
            "just text",
            "<a><b></a>",
            "<a>",
            "<a/><b/>",
            "<a></a><b></b>",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
        let deep = "<a>".repeat(DEPTH_MAX + 1) + &"</a>".repeat(DEPTH_MAX + 1);
        assert!(parse(deep.as_bytes()).is_err());
    }
}
