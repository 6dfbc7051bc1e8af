// The now-playing clock (server time, frozen while paused) and "sync audio" play-along on this device.

export class NestClock {
  constructor() {
    this.offsetMs = 0;
    this.basePos = 0;
    this.baseAt = performance.now();
    this.duration = 0;
    this.paused = true;
    this.uri = null;
  }

  // playing: the body of GET …/playing or a now_playing / player_position event.
  update(playing) {
    if (!playing) return;
    const serverNow = Date.parse(playing.now);
    if (Number.isFinite(serverNow)) this.offsetMs = serverNow - Date.now();
    const start = Date.parse(playing.starttime);
    const end = Date.parse(playing.endtime);
    if (Number.isFinite(Number(playing.duration)) && Number(playing.duration) > 0) this.duration = Number(playing.duration);
    else if (Number.isFinite(start) && Number.isFinite(end)) this.duration = (end - start) / 1000;
    let pos = Number(playing.pos);
    if (!Number.isFinite(pos)) pos = Number.isFinite(start) && Number.isFinite(serverNow) ? (serverNow - start) / 1000 : 0;
    this.basePos = Math.max(0, pos);
    this.baseAt = performance.now();
    this.paused = Boolean(playing.paused);
    if (playing.uri !== undefined) this.uri = playing.uri || null;
  }

  position() {
    const p = this.paused ? this.basePos : this.basePos + (performance.now() - this.baseAt) / 1000;
    return this.duration ? Math.min(p, this.duration) : p;
  }

  remaining() {
    return Math.max(0, this.duration - this.position());
  }

  serverNowMs() {
    return Date.now() + this.offsetMs;
  }
}

// WebAudio for the music (syncplayer.js), airhorns and the soft chime; created on the first user
// gesture. Everything goes through one output gain, so muting keeps every source running (and in
// sync) while silent.
export class SyncAudio {
  constructor() {
    this.enabled = false;
    this.ctx = null;
    this.output = null;
    this.muted = false;
    this.buffers = new Map();
  }

  async enable() {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (Ctx && !this.ctx) {
      this.ctx = new Ctx({ latencyHint: "playback" });
      this.output = this.ctx.createGain();
      this.output.gain.value = this.muted ? 0 : 1;
      this.output.connect(this.ctx.destination);
    }
    if (this.ctx?.state === "suspended") await this.ctx.resume().catch(() => {});
    this.enabled = true;
  }

  setMuted(muted) {
    this.muted = Boolean(muted);
    if (this.output) this.output.gain.setTargetAtTime(this.muted ? 0 : 1, this.ctx.currentTime, 0.015);
  }

  disable() {
    this.enabled = false;
  }

  async buffer(name) {
    if (this.buffers.has(name)) return this.buffers.get(name);
    const p = fetch(`/static/audio/${encodeURIComponent(name)}.wav`)
      .then((r) => (r.ok ? r.arrayBuffer() : Promise.reject(new Error("missing sound"))))
      .then((ab) => this.ctx.decodeAudioData(ab));
    this.buffers.set(name, p);
    p.catch(() => this.buffers.delete(name));
    return p;
  }

  async playHorn(name, volume) {
    if (!this.enabled) return false;
    let gainValue = Number(volume);
    if (!Number.isFinite(gainValue)) gainValue = 1;
    if (gainValue > 1) gainValue /= 100;
    gainValue = Math.max(0.05, Math.min(1, gainValue));
    if (!this.ctx) {
      const audio = new Audio(`/static/audio/${encodeURIComponent(name)}.wav`);
      audio.volume = gainValue;
      await audio.play().catch(() => {});
      return true;
    }
    try {
      const buf = await this.buffer(name);
      const src = this.ctx.createBufferSource();
      const gain = this.ctx.createGain();
      gain.gain.value = gainValue;
      src.buffer = buf;
      src.connect(gain).connect(this.output);
      src.start();
      return true;
    } catch {
      return false;
    }
  }

  // A quiet two-note chime: marks the change to a song that has no audio on this install.
  chime() {
    if (!this.enabled || !this.ctx) return;
    const t0 = this.ctx.currentTime + 0.02;
    [659.25, 987.77].forEach((freq, i) => {
      const osc = this.ctx.createOscillator();
      const gain = this.ctx.createGain();
      osc.type = "sine";
      osc.frequency.value = freq;
      const t = t0 + i * 0.16;
      gain.gain.setValueAtTime(0, t);
      gain.gain.linearRampToValueAtTime(0.06, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.6);
      osc.connect(gain).connect(this.output);
      osc.start(t);
      osc.stop(t + 0.65);
    });
  }
}
