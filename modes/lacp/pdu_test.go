package lacp

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// kernelLACPDU is the frame bond0's eth0 sends in scenario 14-8023ad step 7
// once aggregated (actor 02:00:00:00:00:01 port 1 state 63, partner
// 02:00:00:00:b1:00 port 1 state 63, keys 15), laid out as the kernel's
// struct lacpdu_header.
const kernelLACPDU = "0180c2000002" + "020000000001" + "8809" +
	"0101" + "0114" + "ffff" + "020000000001" + "000f" + "00ff" + "0001" + "3f" + "000000" +
	"0214" + "ffff" + "02000000b100" + "000f" + "00ff" + "0001" + "3f" + "000000" +
	"0310" + "0000" + "000000000000000000000000" +
	"0000" // terminator; 50 zero bytes follow

func kernelFrame(t testing.TB) []byte {
	b, err := hex.DecodeString(kernelLACPDU + strings.Repeat("00", 50))
	require.NoError(t, err)
	require.Len(t, b, FrameLen)
	return b
}

func TestLACPDUCodec(t *testing.T) {
	frame := kernelFrame(t)
	pl, err := SlowPayload(frame)
	require.NoError(t, err)
	p, err := DecodeLACPDU(pl)
	require.NoError(t, err)
	want := LACPDU{
		Version: 1,
		Actor:   PDUInfo{SystemPriority: 0xffff, System: mac(0, 0, 1), Key: 15, PortPriority: 255, Port: 1, State: 63},
		Partner: PDUInfo{SystemPriority: 0xffff, System: mac(0, 0xb1, 0), Key: 15, PortPriority: 255, Port: 1, State: 63},
	}
	assert.Equal(t, want, p)

	out := make([]byte, FrameLen+10)
	n, err := EncodeLACPDUFrame(out, mac(0, 0, 1), &want)
	require.NoError(t, err)
	assert.Equal(t, FrameLen, n)
	assert.Equal(t, frame, out[:n])

	// What a System sends is byte for byte the kernel's frame.
	var sent []byte
	s := New(Config{Name: "bond0", BondMAC: mac(0, 0, 1), Options: fastOpts(),
		Transmit: func(_ PortID, f []byte) { sent = append(sent[:0], f...) }})
	require.NoError(t, s.AddPort(0, "eth0", mac(0, 0, 1), up10G))
	pt := s.ports[0]
	pt.actorOperState = 63
	pt.partnerOper = portParams{system: mac(0, 0xb1, 0), systemPriority: 0xffff, key: 15, portNumber: 1, portPriority: 255, portState: 63}
	s.sendLACPDU(pt)
	assert.Equal(t, frame, sent)

	_, err = EncodeLACPDUFrame(out[:FrameLen-1], mac(1), &want)
	assert.ErrorIs(t, err, ErrShortBuffer)
	_, err = want.MarshalTo(out[:PDULen-1])
	assert.ErrorIs(t, err, ErrShortBuffer)
	_, err = DecodeLACPDU(pl[:PDULen-1])
	assert.ErrorIs(t, err, ErrTruncated)
	pl2 := append([]byte(nil), pl...)
	pl2[0] = 2
	_, err = DecodeLACPDU(pl2)
	assert.ErrorIs(t, err, ErrSubtype)
}

func TestMarkerCodec(t *testing.T) {
	m := Marker{Version: 1, TLVType: MarkerInformation, RequesterPort: 3, RequesterSystem: mac(0, 0xb1, 0), TransactionID: 0xdeadbeef}
	b := make([]byte, FrameLen)
	n, err := EncodeMarkerFrame(b, mac(0, 1, 1), &m)
	require.NoError(t, err)
	require.Equal(t, FrameLen, n)
	assert.Equal(t, "0180c2000002020000000101880902010110000302000000b100deadbeef0000", hex.EncodeToString(b[:32]))
	assert.Equal(t, make([]byte, FrameLen-32), b[32:])
	pl, err := SlowPayload(b)
	require.NoError(t, err)
	got, err := DecodeMarker(pl)
	require.NoError(t, err)
	assert.Equal(t, m, got)
	_, err = DecodeMarker(pl[:10])
	assert.ErrorIs(t, err, ErrTruncated)
	_, err = DecodeMarker(kernelFrame(t)[HeaderLen:])
	assert.ErrorIs(t, err, ErrSubtype)
	_, err = EncodeMarkerFrame(b[:10], mac(1), &m)
	assert.ErrorIs(t, err, ErrShortBuffer)
	_, err = m.MarshalTo(b[:10])
	assert.ErrorIs(t, err, ErrShortBuffer)
}

func TestSlowPayload(t *testing.T) {
	frame := kernelFrame(t)
	// One VLAN tag is skipped, as the kernel untags before rx_handler.
	tagged := append(append(append([]byte(nil), frame[:12]...), 0x81, 0x00, 0x00, 0x05), frame[12:]...)
	pl, err := SlowPayload(tagged)
	require.NoError(t, err)
	assert.Equal(t, frame[HeaderLen:], pl)
	for name, f := range map[string][]byte{
		"short":     frame[:13],
		"tag cut":   tagged[:16],
		"other dst": append([]byte{1, 0x80, 0xc2, 0, 0, 3}, frame[6:]...),
		"ipv4":      append(append([]byte(nil), frame[:12]...), 0x08, 0x00),
	} {
		_, err := SlowPayload(f)
		assert.ErrorIs(t, err, ErrNotSlow, name)
	}
}

func TestReceiveCounters(t *testing.T) {
	var sent [][]byte
	var sentOn []PortID
	s := New(Config{Name: "bond0", BondMAC: mac(0, 0, 1), Options: DefaultOptions(),
		Transmit: func(id PortID, f []byte) { sent = append(sent, append([]byte(nil), f...)); sentOn = append(sentOn, id) }})
	require.NoError(t, s.AddPort(0, "eth0", mac(0, 0, 1), up10G))
	require.NoError(t, s.AddPort(1, "eth1", mac(0, 0, 2), up10G))
	s.Open()

	// Marker Information: answered at once with a Marker Response, every
	// byte copied (reserved bytes too) but the TLV type and the source.
	info := make([]byte, FrameLen+8) // with trailing padding
	m := Marker{Version: 1, TLVType: MarkerInformation, RequesterPort: 2, RequesterSystem: mac(0, 0xb1, 0), TransactionID: 7}
	_, err := EncodeMarkerFrame(info, mac(0, 1, 2), &m)
	require.NoError(t, err)
	info[HeaderLen+60] = 0x5a // junk in the reserved area
	assert.True(t, s.Receive(1, info))
	require.Len(t, sent, 1)
	assert.Equal(t, PortID(1), sentOn[0])
	resp := sent[0]
	require.Len(t, resp, FrameLen)
	assert.Equal(t, SlowProtocolsAddr[:], resp[0:6])
	assert.Equal(t, []byte{2, 0, 0, 0, 0, 2}, resp[6:12])
	assert.Equal(t, byte(MarkerResponse), resp[HeaderLen+2])
	want := append([]byte(nil), info[HeaderLen:FrameLen]...)
	want[2] = MarkerResponse
	assert.Equal(t, want, resp[HeaderLen:])

	// A Marker Response, an unknown marker TLV, an unknown subtype, a
	// short Slow Protocols frame, a non-Slow frame.
	m.TLVType = MarkerResponse
	_, _ = EncodeMarkerFrame(info, mac(0, 1, 2), &m)
	assert.True(t, s.Receive(1, info))
	m.TLVType = 9
	_, _ = EncodeMarkerFrame(info, mac(0, 1, 2), &m)
	assert.True(t, s.Receive(1, info))
	other := append([]byte(nil), info...)
	other[HeaderLen] = 10 // OAM
	assert.False(t, s.Receive(1, other))
	assert.False(t, s.Receive(1, info[:HeaderLen+PDULen-1]))
	ip := append([]byte(nil), info...)
	ip[12], ip[13] = 8, 0
	assert.False(t, s.Receive(1, ip))
	// An LACPDU.
	assert.True(t, s.Receive(0, kernelFrame(t)))

	p1, _ := s.Port(1)
	assert.Equal(t, Stats{MarkerRx: 1, MarkerRespTx: 1, MarkerRespRx: 1, MarkerUnknownRx: 1, LACPDUUnknownRx: 1, LACPDUIllegalRx: 1}, p1.Stats)
	p0, _ := s.Port(0)
	assert.Equal(t, Stats{LACPDURx: 1}, p0.Stats)
	assert.Equal(t, Stats{LACPDURx: 1, MarkerRx: 1, MarkerRespTx: 1, MarkerRespRx: 1, MarkerUnknownRx: 1, LACPDUUnknownRx: 1, LACPDUIllegalRx: 1}, s.Stats())
	assert.Len(t, sent, 1)
}

func TestIllegalLoopback(t *testing.T) {
	n := newTestNet(t)
	s := n.addSystem("bond0", mac(0, 0, 1), fastOpts())
	require.NoError(t, s.AddPort(0, "eth0", mac(0, 0, 1), up10G))
	require.NoError(t, s.AddPort(1, "eth1", mac(0, 0, 2), up10G))
	// eth0 and eth1 are cabled to each other.
	n.connect(endpoint{0, 0}, endpoint{0, 1})
	s.Open()
	n.run(5)
	logs := n.takeLogs()
	require.NotEmpty(t, logs)
	assert.Equal(t, "bond0: (slave eth1): An illegal loopback occurred on slave\n"+
		"Check the configuration to verify that all adapters are connected to 802.3ad compliant switch ports", logs[0])
	st := s.Status()
	for _, p := range st.Ports {
		assert.Equal(t, []byte{0, 0, 0, 0, 0, 0}, []byte(p.Partner.System), "loopback PDU recorded as partner")
	}
}

func TestStatusCopies(t *testing.T) {
	n, b0, b1 := backToBack(t, fastOpts(), fastOpts())
	b0.Open()
	b1.Open()
	n.run(40)
	st := b0.Status()
	require.NotNil(t, st.Active)
	assert.True(t, st.Carrier)
	assert.True(t, st.Open)
	st.Ports[0].Partner.System[0] = 0xff
	st.SystemMAC[0] = 0xff
	again := b0.Status()
	assert.True(t, bytes.Equal([]byte{2, 0, 0, 0, 0xb1, 0}, again.Ports[0].Partner.System))
	assert.Equal(t, byte(2), again.SystemMAC[0])
	assert.Equal(t, "monitoring", again.Ports[0].ActorChurnState.String())
	assert.Equal(t, "churned", Churned.String())
	assert.Equal(t, "none", NoChurn.String())
	assert.Equal(t, "unknown", ChurnState(7).String())
	assert.Equal(t, "COLLECTING_DISTRIBUTING", again.Ports[0].MuxState.String())
	assert.Equal(t, "CURRENT", again.Ports[0].RxState.String())
	assert.Equal(t, "FAST_PERIODIC", FastPeriodic.String())
	assert.Equal(t, "bandwidth", SelectBandwidth.String())
	assert.Contains(t, ADSelect(9).String(), "9")
	assert.Contains(t, MuxState(99).String(), "99")
	assert.Contains(t, RxState(99).String(), "99")
	assert.Contains(t, PeriodicState(99).String(), "99")
}
