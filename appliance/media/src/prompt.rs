//! Prompts and their playback as RTP: 8 kHz A-law audio (µ-law made once at load), sent in
//! 20 ms packets of 160 samples with a continuous sequence number and timestamp, the marker
//! bit on the first packet of each prompt (RFC 3551 §4.1: the start of a talkspurt).

use std::path::Path;
use std::sync::Arc;

use crate::g711::{self, Codec};
use crate::rtp::{self, Header};

/// Samples per 20 ms packet at 8 kHz.
pub const SAMPLES_PER_PACKET: usize = 160;

/// The menu played before a call is queued (Romanian, then English; 9 s). Made with
/// espeak-ng and sox; see `appliance/media/prompts/README.md`.
static MENU_ALAW: &[u8] = include_bytes!("../prompts/menu.alaw");

/// Longest prompt accepted from a file: 2 minutes.
pub const MAX_PROMPT_BYTES: usize = 8000 * 120;

/// A prompt in both G.711 laws, shared by every call that plays it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    alaw: Arc<[u8]>,
    ulaw: Arc<[u8]>,
}

/// Why a prompt file was not loaded.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("cannot read prompt {path}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("prompt {path} is empty or longer than two minutes")]
    Size { path: String },
}

impl Prompt {
    /// From raw 8 kHz A-law samples (no header).
    pub fn from_alaw(alaw: &[u8]) -> Prompt {
        let table = g711::alaw_to_ulaw_table();
        let ulaw: Vec<u8> = alaw.iter().map(|a| table[usize::from(*a)]).collect();
        Prompt {
            alaw: alaw.into(),
            ulaw: ulaw.into(),
        }
    }

    /// The built-in language and emergency menu.
    pub fn builtin_menu() -> Prompt {
        Prompt::from_alaw(MENU_ALAW)
    }

    /// Reads a raw A-law file (`sox … -r 8000 -c 1 -e a-law -t raw`).
    pub fn load(path: &Path) -> Result<Prompt, PromptError> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| PromptError::Read {
            path: shown.clone(),
            source,
        })?;
        if bytes.is_empty() || bytes.len() > MAX_PROMPT_BYTES {
            return Err(PromptError::Size { path: shown });
        }
        Ok(Prompt::from_alaw(&bytes))
    }

    pub fn samples(&self, codec: Codec) -> &[u8] {
        match codec {
            Codec::Pcma => &self.alaw,
            Codec::Pcmu => &self.ulaw,
        }
    }

    /// How many 20 ms packets it takes.
    pub fn packets(&self) -> usize {
        self.alaw.len().div_ceil(SAMPLES_PER_PACKET)
    }
}

/// One outgoing RTP stream of prompts. Call [`Player::tick`] every 20 ms; it writes the next
/// packet while a prompt plays and keeps the timestamp running while none does, so a later
/// prompt's timestamps still follow the clock.
#[derive(Debug)]
pub struct Player {
    codec: Codec,
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    playing: Option<(Prompt, usize)>,
    marker: bool,
}

impl Player {
    pub fn new(codec: Codec, ssrc: u32, sequence: u16, timestamp: u32) -> Player {
        Player {
            codec,
            ssrc,
            sequence,
            timestamp,
            playing: None,
            marker: false,
        }
    }

    pub fn play(&mut self, prompt: &Prompt) {
        self.playing = Some((prompt.clone(), 0));
        self.marker = true;
    }

    pub fn stop(&mut self) {
        self.playing = None;
    }

    pub fn is_playing(&self) -> bool {
        self.playing.is_some()
    }

    /// One 20 ms step: the length of the packet written into `buf`, or `None` when nothing
    /// plays (or `buf` is smaller than 172 bytes).
    pub fn tick(&mut self, buf: &mut [u8]) -> Option<usize> {
        let timestamp = self.timestamp;
        self.timestamp = self.timestamp.wrapping_add(SAMPLES_PER_PACKET as u32);
        let (prompt, offset) = self.playing.as_mut()?;
        let samples = prompt.samples(self.codec);
        let end = (*offset + SAMPLES_PER_PACKET).min(samples.len());
        let mut frame = [self.codec.silence(); SAMPLES_PER_PACKET];
        let chunk = samples.get(*offset..end).unwrap_or_default();
        frame[..chunk.len()].copy_from_slice(chunk);
        *offset = end;
        let finished = end >= samples.len();
        let header = Header {
            payload_type: self.codec.payload_type(),
            marker: self.marker,
            sequence: self.sequence,
            timestamp,
            ssrc: self.ssrc,
        };
        let written = rtp::write(buf, &header, &frame).ok()?;
        self.marker = false;
        self.sequence = self.sequence.wrapping_add(1);
        if finished {
            self.playing = None;
        }
        Some(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plays_20ms_packets_with_running_sequence_and_timestamp() {
        // 400 samples: two full packets and one padded with silence.
        let prompt = Prompt::from_alaw(&[0x2a; 400]);
        assert_eq!(prompt.packets(), 3);
        let mut player = Player::new(Codec::Pcma, 7, 65_534, u32::MAX - 159);
        let mut buf = [0u8; 256];
        assert_eq!(player.tick(&mut buf), None, "silent before play");
        player.play(&prompt);
        let mut seen = Vec::new();
        while let Some(n) = player.tick(&mut buf) {
            let packet = rtp::parse(&buf[..n]).expect("parses");
            assert_eq!(packet.payload.len(), 160);
            seen.push((packet.header, packet.payload[159]));
        }
        assert_eq!(seen.len(), 3);
        let headers: Vec<_> = seen
            .iter()
            .map(|(h, _)| (h.marker, h.sequence, h.timestamp))
            .collect();
        assert_eq!(
            headers,
            [(true, 65_534, 0), (false, 65_535, 160), (false, 0, 320)]
        );
        assert!(seen.iter().all(|(h, _)| h.payload_type == 8 && h.ssrc == 7));
        // The last packet is padded with A-law silence.
        assert_eq!(seen[2].1, 0xd5);
        assert!(!player.is_playing());
        // Time runs on while silent (the loop's last tick and this one): the next prompt
        // starts 40 ms after the last packet, marked.
        assert_eq!(player.tick(&mut buf), None);
        player.play(&prompt);
        let n = player.tick(&mut buf).expect("plays");
        let header = rtp::parse(&buf[..n]).expect("parses").header;
        assert_eq!(
            (header.marker, header.sequence, header.timestamp),
            (true, 1, 800)
        );
    }

    #[test]
    fn pcmu_calls_hear_the_transcoded_prompt() {
        let prompt = Prompt::builtin_menu();
        assert!(prompt.packets() > 100, "the menu is several seconds long");
        let mut player = Player::new(Codec::Pcmu, 1, 0, 0);
        player.play(&prompt);
        let mut buf = [0u8; 256];
        let n = player.tick(&mut buf).expect("plays");
        let packet = rtp::parse(&buf[..n]).expect("parses");
        assert_eq!(packet.header.payload_type, 0);
        assert_eq!(packet.payload, &prompt.samples(Codec::Pcmu)[..160]);
    }
}
