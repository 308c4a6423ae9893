//! What a server supports, as its `FEAT` reply announces it.

use super::wire::Reply;

/// What the server supports, from `FEAT`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Features {
    pub mlsd: bool,
    pub mlst: bool,
    pub mfmt: bool,
    pub mdtm: bool,
    pub size: bool,
    pub utf8: bool,
}

/// The features announced in a `FEAT` reply.
pub(super) fn features_of(reply: &Reply) -> Features {
    if reply.code != 211 {
        return Features::default();
    }
    let names: Vec<String> = reply
        .lines
        .iter()
        .skip(1)
        .filter(|l| l.first() == Some(&b' '))
        .map(|l| String::from_utf8_lossy(l).trim().split(' ').next().unwrap_or_default().to_ascii_uppercase())
        .collect();
    let has = |name: &str| names.iter().any(|n| n == name);
    Features {
        // MLST announced means MLSD is there too (RFC 3659), and pyftpdlib announces only MLST.
        mlsd: has("MLST") || has("MLSD"),
        mlst: has("MLST"),
        mfmt: has("MFMT"),
        mdtm: has("MDTM"),
        size: has("SIZE"),
        utf8: has("UTF8"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_from_feat() {
        let lines = ["211-Features:", " MLST type*;size*;modify*;", " mfmt", " SIZE", " UTF8", "211 End"];
        let reply = Reply { code: 211, lines: lines.iter().map(|l| l.as_bytes().to_vec()).collect() };
        let f = features_of(&reply);
        assert!(f.mlsd && f.mlst && f.mfmt && f.size && f.utf8 && !f.mdtm);
        assert!(!features_of(&Reply { code: 500, lines: vec![b"500 no".to_vec()] }).mlsd);
    }
}
