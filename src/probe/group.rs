//! placeholder, being written
use super::{Facts, Kind, Param, Query};
use crate::transport::ExecOutput;
pub struct Group;
impl Kind for Group {
    fn name(&self) -> &'static str {
        "group"
    }
    fn subject(&self) -> &'static str {
        ""
    }
    fn doc(&self) -> &'static str {
        ""
    }
    fn params(&self) -> &'static [Param] {
        &[]
    }
    fn presence(&self) -> Option<&'static str> {
        None
    }
    fn script(&self, _q: &Query) -> String {
        todo!()
    }
    fn parse(&self, _q: &Query, _o: &ExecOutput) -> Result<Facts, String> {
        todo!()
    }
}
