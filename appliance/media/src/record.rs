//! Call recording: each leg's G.711 audio as it reaches the hub, written unchanged into a WAV
//! file (format A-law or µ-law, 8 kHz mono), one file per leg. A gap in the RTP timestamps
//! (lost packets, silence suppression) is filled with silence, at most one second at a time,
//! so both files keep the call's timing.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::g711::Codec;

/// Where a call's recording is: one WAV file per leg.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Recording {
    pub caller: PathBuf,
    pub agent: PathBuf,
}

/// Longest gap filled with silence in one go: one second.
const MAX_GAP: u32 = 8000;
/// A WAV file stops growing past 4 GiB minus its header (the RIFF size field is 32 bits).
const MAX_DATA: u32 = u32::MAX - 64;

/// One leg's file.
#[derive(Debug)]
pub(crate) struct WavWriter {
    out: BufWriter<File>,
    codec: Codec,
    data: u32,
    /// The timestamp expected next, to spot gaps.
    next_timestamp: Option<u32>,
}

fn header(codec: Codec, data: u32) -> [u8; 58] {
    // RIFF/WAVE with a non-PCM `fmt ` chunk (cbSize 0) and a `fact` chunk, as WAVE_FORMAT_ALAW
    // and WAVE_FORMAT_MULAW files require.
    let mut h = [0u8; 58];
    let mut put = |at: usize, bytes: &[u8]| h[at..at + bytes.len()].copy_from_slice(bytes);
    put(0, b"RIFF");
    put(4, &(50 + data).to_le_bytes());
    put(8, b"WAVEfmt ");
    put(16, &18u32.to_le_bytes());
    put(20, &codec.wav_format().to_le_bytes());
    put(22, &1u16.to_le_bytes()); // mono
    put(24, &8000u32.to_le_bytes()); // samples per second
    put(28, &8000u32.to_le_bytes()); // bytes per second
    put(32, &1u16.to_le_bytes()); // block align
    put(34, &8u16.to_le_bytes()); // bits per sample
    put(36, &0u16.to_le_bytes()); // cbSize
    put(38, b"fact");
    put(42, &4u32.to_le_bytes());
    put(46, &data.to_le_bytes()); // samples
    put(50, b"data");
    put(54, &data.to_le_bytes());
    h
}

impl WavWriter {
    /// Creates `path`; an existing file is never overwritten.
    pub(crate) fn create(path: &Path, codec: Codec) -> std::io::Result<WavWriter> {
        let file = OpenOptions::new().write(true).create_new(true).open(path)?;
        let mut out = BufWriter::with_capacity(16 * 1024, file);
        out.write_all(&header(codec, 0))?;
        Ok(WavWriter {
            out,
            codec,
            data: 0,
            next_timestamp: None,
        })
    }

    /// Appends one packet's payload taken at RTP `timestamp`.
    pub(crate) fn write(&mut self, timestamp: u32, payload: &[u8]) -> std::io::Result<()> {
        if let Some(expected) = self.next_timestamp {
            let gap = timestamp.wrapping_sub(expected);
            if gap > 0 && gap <= MAX_GAP {
                let silence = [self.codec.silence(); 160];
                let mut left = gap;
                while left > 0 {
                    let n = left.min(160);
                    self.append(&silence[..n as usize])?;
                    left -= n;
                }
            }
        }
        self.append(payload)?;
        let len = u32::try_from(payload.len()).unwrap_or(0);
        self.next_timestamp = Some(timestamp.wrapping_add(len));
        Ok(())
    }

    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        if self.data.saturating_add(len) > MAX_DATA {
            return Ok(());
        }
        self.out.write_all(bytes)?;
        self.data += len;
        Ok(())
    }

    /// Writes the final sizes into the header and closes the file.
    pub(crate) fn finish(mut self) -> std::io::Result<()> {
        self.out.flush()?;
        let mut file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(0))?;
        file.write_all(&header(self.codec, self.data))?;
        file.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_wav_with_gaps_filled() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("leg.wav");
        let mut wav = WavWriter::create(&path, Codec::Pcma).expect("create");
        wav.write(1000, &[0x2a; 160]).expect("write");
        // One 20 ms packet lost.
        wav.write(1320, &[0x2b; 160]).expect("write");
        wav.finish().expect("finish");
        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(&bytes[..4], b"RIFF");
        assert_eq!(u16::from_le_bytes([bytes[20], bytes[21]]), 6, "A-law");
        assert_eq!(
            u32::from_le_bytes([bytes[54], bytes[55], bytes[56], bytes[57]]),
            480
        );
        let audio = &bytes[58..];
        assert_eq!(audio.len(), 480);
        assert!(audio[..160].iter().all(|b| *b == 0x2a));
        assert!(
            audio[160..320].iter().all(|b| *b == 0xd5),
            "silence for the lost packet"
        );
        assert!(audio[320..].iter().all(|b| *b == 0x2b));
        assert!(
            WavWriter::create(&path, Codec::Pcma).is_err(),
            "never overwrites"
        );
    }
}
