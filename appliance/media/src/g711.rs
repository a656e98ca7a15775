//! G.711 (ITU-T G.711) as far as the hub needs it: the two payload types, their silence, and
//! A-law → µ-law transcoding so one set of A-law prompt files serves both (table built once).
//! The relay itself never transcodes: both legs of a call use the caller's codec.

/// A G.711 codec with its static RTP payload type (RFC 3551).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Codec {
    /// µ-law, payload type 0.
    Pcmu,
    /// A-law, payload type 8.
    Pcma,
}

impl Codec {
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    pub fn from_payload_type(pt: u8) -> Option<Codec> {
        match pt {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    /// The `a=rtpmap` encoding name.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// The byte of a silent sample.
    pub fn silence(self) -> u8 {
        match self {
            Codec::Pcmu => 0xff,
            Codec::Pcma => 0xd5,
        }
    }

    /// The WAV format tag (RIFF WAVE_FORMAT_ALAW / WAVE_FORMAT_MULAW).
    pub fn wav_format(self) -> u16 {
        match self {
            Codec::Pcmu => 7,
            Codec::Pcma => 6,
        }
    }
}

/// A-law sample → 16-bit linear.
pub fn alaw_to_linear(a: u8) -> i16 {
    let a = a ^ 0x55;
    let mut t = i16::from(a & 0x0f) << 4;
    let segment = (a & 0x70) >> 4;
    match segment {
        0 => t += 8,
        1 => t += 0x108,
        s => {
            t += 0x108;
            t <<= s - 1;
        }
    }
    if a & 0x80 != 0 { t } else { -t }
}

/// µ-law sample → 16-bit linear.
pub fn ulaw_to_linear(u: u8) -> i16 {
    let u = !u;
    let t = ((i32::from(u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
    let value = if u & 0x80 != 0 { 0x84 - t } else { t - 0x84 };
    // Bounded by construction: |t| ≤ (15·8 + 132) << 7 = 32256.
    i16::try_from(value).unwrap_or(i16::MAX)
}

/// 16-bit linear → µ-law.
pub fn linear_to_ulaw(sample: i16) -> u8 {
    const CLIP: i32 = 8159;
    const SEGMENT_ENDS: [i32; 8] = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff];
    let mut pcm = i32::from(sample) >> 2;
    let mask: u8 = if pcm < 0 {
        pcm = -pcm;
        0x7f
    } else {
        0xff
    };
    pcm = pcm.min(CLIP) + (0x84 >> 2);
    match SEGMENT_ENDS.iter().position(|end| pcm <= *end) {
        // pcm ≤ 8192, so the segment and the quantised value fit in a byte.
        Some(segment) => {
            let quantised = (pcm >> (segment + 1)) & 0x0f;
            let value = u8::try_from((segment << 4) | usize::try_from(quantised).unwrap_or(0))
                .unwrap_or(0x7f);
            value ^ mask
        }
        None => 0x7f ^ mask,
    }
}

/// A table mapping every A-law byte to its µ-law byte.
pub fn alaw_to_ulaw_table() -> [u8; 256] {
    let mut table = [0u8; 256];
    for (a, slot) in (0..=255u8).zip(table.iter_mut()) {
        *slot = linear_to_ulaw(alaw_to_linear(a));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_maps_to_silence_and_levels_survive_transcoding() {
        assert_eq!(alaw_to_linear(0xd5), 8);
        assert_eq!(ulaw_to_linear(0xff), 0);
        let table = alaw_to_ulaw_table();
        // Every A-law level comes out of µ-law within its quantisation step (≤ 1/16 + 8).
        for a in 0..=255u8 {
            let linear = i32::from(alaw_to_linear(a));
            let back = i32::from(ulaw_to_linear(table[usize::from(a)]));
            assert!(
                (linear - back).abs() <= linear.abs() / 16 + 16,
                "A-law {a:#04x}: {linear} came back as {back}"
            );
        }
        // Loud samples keep their sign.
        assert!(ulaw_to_linear(table[0xaa]) > 20_000);
        assert!(ulaw_to_linear(table[0x2a]) < -20_000);
    }

    #[test]
    fn codecs_name_their_payload_types() {
        assert_eq!(Codec::from_payload_type(8), Some(Codec::Pcma));
        assert_eq!(Codec::from_payload_type(0), Some(Codec::Pcmu));
        assert_eq!(Codec::from_payload_type(18), None);
        assert_eq!(Codec::Pcma.name(), "PCMA");
    }
}
