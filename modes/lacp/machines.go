package lacp

import "strconv"

// This file holds the per-port state machines of bond_3ad.c, run in the
// kernel's order by Tick: Receive, Periodic Transmission, Selection, Mux,
// Transmit, Churn Detection.

// --- Receive machine helpers -----------------------------------------------

// chooseMatched sets or clears Matched from a received LACPDU
// (__choose_matched).
func (p *port) chooseMatched(pdu *LACPDU) {
	pt := &pdu.Partner
	if (pt.Port == p.actorPortNumber &&
		pt.PortPriority == p.actorPortPriority &&
		pt.System == p.actorSystem &&
		pt.SystemPriority == p.actorSystemPriority &&
		pt.Key == p.actorOperKey &&
		pt.State&StateAggregation == p.actorOperState&StateAggregation) ||
		pdu.Actor.State&StateAggregation == 0 {
		p.smVars |= portMatched
	} else {
		p.smVars &^= portMatched
	}
}

// recordPDU records the PDU's actor as the operational partner
// (__record_pdu).
func (p *port) recordPDU(pdu *LACPDU) {
	p.chooseMatched(pdu)
	a := &pdu.Actor
	p.partnerOper = portParams{
		system:         a.System,
		systemPriority: a.SystemPriority,
		key:            a.Key,
		portNumber:     a.Port,
		portPriority:   a.PortPriority,
		portState:      a.State,
	}
	p.actorOperState &^= StateDefaulted
	if p.smVars&portMatched != 0 && a.State&StateSynchronization != 0 {
		p.partnerOper.portState |= StateSynchronization
	} else {
		p.partnerOper.portState &^= StateSynchronization
	}
}

// recordDefault falls back to the administrative partner (__record_default).
func (p *port) recordDefault() {
	p.partnerOper = p.partnerAdmin
	p.actorOperState |= StateDefaulted
}

// updateSelected clears Selected when the PDU's actor differs from the
// recorded partner (__update_selected).
func (p *port) updateSelected(pdu *LACPDU) {
	a, o := &pdu.Actor, &p.partnerOper
	if a.Port != o.portNumber || a.PortPriority != o.portPriority ||
		a.System != o.system || a.SystemPriority != o.systemPriority ||
		a.Key != o.key ||
		a.State&StateAggregation != o.portState&StateAggregation {
		p.smVars &^= portSelected
	}
}

// updateDefaultSelected clears Selected when the administrative partner
// differs from the operational one (__update_default_selected).
func (p *port) updateDefaultSelected() {
	a, o := &p.partnerAdmin, &p.partnerOper
	if a.portNumber != o.portNumber || a.portPriority != o.portPriority ||
		a.system != o.system || a.systemPriority != o.systemPriority ||
		a.key != o.key ||
		a.portState&StateAggregation != o.portState&StateAggregation {
		p.smVars &^= portSelected
	}
}

// updateNTT sets NTT when the PDU's view of us is out of date
// (__update_ntt).
func (p *port) updateNTT(pdu *LACPDU) {
	pt := &pdu.Partner
	const bits = StateActivity | StateTimeout | StateSynchronization | StateAggregation
	if pt.Port != p.actorPortNumber || pt.PortPriority != p.actorPortPriority ||
		pt.System != p.actorSystem || pt.SystemPriority != p.actorSystemPriority ||
		pt.Key != p.actorOperKey ||
		pt.State&bits != p.actorOperState&bits {
		p.ntt = true
	}
}

// rxMachine runs the Receive machine, with pdu nil on a tick
// (ad_rx_machine).
func (s *System) rxMachine(pdu *LACPDU, p *port) {
	last := p.rxState
	if pdu != nil {
		p.stats.LACPDURx++
		s.stats.LACPDURx++
	}
	switch {
	case p.smVars&portBegin != 0:
		p.rxState = RxInitialize
		p.smVars |= portChurned
	case !p.isEnabled:
		p.rxState = RxPortDisabled
	case pdu != nil && (p.rxState == RxExpired || p.rxState == RxDefaulted || p.rxState == RxCurrent):
		if p.rxState != RxCurrent {
			p.smVars |= portChurned
		}
		p.rxTimer = 0
		p.rxState = RxCurrent
	default:
		expired := false
		if p.rxTimer != 0 {
			p.rxTimer--
			expired = p.rxTimer == 0
		}
		if expired {
			switch p.rxState {
			case RxExpired:
				p.rxState = RxDefaulted
			case RxCurrent:
				p.rxState = RxExpired
			}
		} else if p.rxState == RxPortDisabled && p.isEnabled {
			if p.smVars&portLACPEnabled != 0 {
				p.rxState = RxExpired
			} else {
				p.rxState = RxLACPDisabled
			}
		}
	}

	if p.rxState == last && pdu == nil {
		return
	}
	switch p.rxState {
	case RxInitialize:
		if p.actorOperKey&duplexKeyMask == 0 {
			p.smVars &^= portLACPEnabled
		} else {
			p.smVars |= portLACPEnabled
		}
		p.smVars &^= portSelected
		p.recordDefault()
		p.actorOperState &^= StateExpired
		p.rxState = RxPortDisabled
		fallthrough
	case RxPortDisabled:
		p.smVars &^= portMatched
		p.partnerOper.portState &^= StateSynchronization
	case RxLACPDisabled:
		p.smVars &^= portSelected
		p.recordDefault()
		p.partnerOper.portState &^= StateAggregation
		p.smVars |= portMatched
		p.actorOperState &^= StateExpired
	case RxExpired:
		p.smVars &^= portMatched
		p.partnerOper.portState &^= StateSynchronization
		p.partnerOper.portState |= StateTimeout
		p.rxTimer = currentWhileTicks(true)
		p.actorOperState |= StateExpired
		p.smVars |= portChurned
	case RxDefaulted:
		p.updateDefaultSelected()
		p.recordDefault()
		p.smVars |= portMatched
		p.actorOperState &^= StateExpired
	case RxCurrent:
		if pdu == nil {
			return
		}
		if pdu.Actor.System == p.actorSystem {
			s.slaveLog(LevelErr, p, "An illegal loopback occurred on slave\n"+
				"Check the configuration to verify that all adapters are connected to 802.3ad compliant switch ports")
			return
		}
		p.updateSelected(pdu)
		p.updateNTT(pdu)
		p.recordPDU(pdu)
		p.rxTimer = currentWhileTicks(p.actorOperState&StateTimeout != 0)
		p.actorOperState &^= StateExpired
	}
}

// --- Churn, Transmit, Periodic ---------------------------------------------

// churnMachine runs both churn detection machines (ad_churn_machine).
func (p *port) churnMachine() {
	if p.smVars&portChurned != 0 {
		p.smVars &^= portChurned
		p.churnActorState = ChurnMonitor
		p.churnPartnerState = ChurnMonitor
		p.churnActorTimer = churnDetectionTime * TicksPerSecond
		p.churnPartnerTimer = churnDetectionTime * TicksPerSecond
		return
	}
	if p.churnActorTimer != 0 {
		p.churnActorTimer--
		if p.churnActorTimer == 0 && p.churnActorState == ChurnMonitor {
			if p.actorOperState&StateSynchronization != 0 {
				p.churnActorState = NoChurn
			} else {
				p.churnActorCount++
				p.churnActorState = Churned
			}
		}
	}
	if p.churnPartnerTimer != 0 {
		p.churnPartnerTimer--
		if p.churnPartnerTimer == 0 && p.churnPartnerState == ChurnMonitor {
			if p.partnerOper.portState&StateSynchronization != 0 {
				p.churnPartnerState = NoChurn
			} else {
				p.churnPartnerCount++
				p.churnPartnerState = Churned
			}
		}
	}
}

// txMachine sends an LACPDU when NTT is set, at most AD_MAX_TX_IN_SECOND a
// second (ad_tx_machine).
func (s *System) txMachine(p *port) {
	if p.txTimer == 0 {
		return
	}
	p.txTimer--
	if p.txTimer != 0 {
		return
	}
	if p.ntt && p.smVars&portLACPEnabled != 0 {
		s.sendLACPDU(p)
		p.ntt = false
	}
	p.txTimer = TicksPerSecond / maxTxInSecond
}

// periodicMachine runs the Periodic Transmission machine
// (ad_periodic_machine).
func (p *port) periodicMachine() {
	last := p.periodicState
	switch {
	case p.smVars&portBegin != 0 || p.smVars&portLACPEnabled == 0 || !p.isEnabled ||
		(p.actorOperState&StateActivity == 0 && p.partnerOper.portState&StateActivity == 0):
		p.periodicState = NoPeriodic
	case p.periodicTimer != 0:
		p.periodicTimer--
		if p.periodicTimer == 0 {
			p.periodicState = PeriodicTX
			break
		}
		switch p.periodicState {
		case FastPeriodic:
			if p.partnerOper.portState&StateTimeout == 0 {
				p.periodicState = SlowPeriodic
			}
		case SlowPeriodic:
			if p.partnerOper.portState&StateTimeout != 0 {
				p.periodicTimer = 0
				p.periodicState = PeriodicTX
			}
		}
	default:
		switch p.periodicState {
		case NoPeriodic:
			p.periodicState = FastPeriodic
		case PeriodicTX:
			if p.partnerOper.portState&StateTimeout == 0 {
				p.periodicState = SlowPeriodic
			} else {
				p.periodicState = FastPeriodic
			}
		}
	}
	if p.periodicState == last {
		return
	}
	switch p.periodicState {
	case NoPeriodic:
		p.periodicTimer = 0
	case FastPeriodic:
		p.periodicTimer = fastPeriodicTime*TicksPerSecond - 1
	case SlowPeriodic:
		p.periodicTimer = slowPeriodicTime*TicksPerSecond - 1
	case PeriodicTX:
		p.ntt = true
	}
}

// --- Mux machine -------------------------------------------------------------

// moveToAttached moves a Collecting/Collecting_Distributing port back to
// Attached when it is no longer selected or in sync
// (__port_move_to_attached_state).
func (p *port) moveToAttached() bool {
	if p.smVars&portSelected == 0 || p.smVars&portStandby != 0 ||
		p.partnerOper.portState&StateSynchronization == 0 ||
		p.actorOperState&StateSynchronization == 0 {
		p.muxState = MuxAttached
	}
	return p.muxState == MuxAttached
}

func aggActive(a *aggregator) bool { return a != nil && a.isActive }

// muxMachine runs the Mux machine (ad_mux_machine).
func (s *System) muxMachine(p *port) {
	last := p.muxState
	agg := p.agg
	if p.smVars&portBegin != 0 {
		p.muxState = MuxDetached
	} else {
		switch p.muxState {
		case MuxDetached:
			if p.smVars&(portSelected|portStandby) != 0 {
				p.muxState = MuxWaiting
			}
		case MuxWaiting:
			if p.smVars&portSelected == 0 {
				p.smVars &^= portReadyN
				agg.setPortsReady(agg.portsReady())
				p.muxState = MuxDetached
				break
			}
			if p.muxTimer != 0 {
				p.muxTimer--
				if p.muxTimer == 0 {
					p.smVars |= portReadyN
				}
			}
			agg.setPortsReady(agg.portsReady())
			if p.smVars&portReady != 0 && p.muxTimer == 0 {
				p.muxState = MuxAttached
			}
		case MuxAttached:
			switch {
			case p.smVars&portSelected != 0 &&
				p.partnerOper.portState&StateSynchronization != 0 &&
				s.aggSelectTimer == 0:
				if aggActive(agg) {
					if s.opt.CoupledControl {
						p.muxState = MuxCollectingDistributing
					} else {
						p.muxState = MuxCollecting
					}
				}
			case p.smVars&portSelected == 0 || p.smVars&portStandby != 0:
				p.smVars &^= portReadyN
				agg.setPortsReady(agg.portsReady())
				p.muxState = MuxDetached
			case aggActive(agg):
				p.actorOperState |= StateSynchronization
			}
		case MuxCollectingDistributing:
			if !p.moveToAttached() && aggActive(agg) && p.backup {
				s.enablePort(p)
				s.pending |= ChangeSlaveArray
			}
		case MuxCollecting:
			if !p.moveToAttached() {
				if p.smVars&portSelected != 0 &&
					p.partnerOper.portState&StateSynchronization != 0 &&
					p.partnerOper.portState&StateCollecting != 0 {
					p.muxState = MuxDistributing
				} else if aggActive(agg) && p.rxDisabled {
					s.enableCollecting(p)
					s.pending |= ChangeSlaveArray
				}
			}
		case MuxDistributing:
			if p.smVars&portSelected == 0 || p.smVars&portStandby != 0 ||
				p.partnerOper.portState&StateCollecting == 0 ||
				p.partnerOper.portState&StateSynchronization == 0 ||
				p.actorOperState&StateSynchronization == 0 {
				p.muxState = MuxCollecting
			} else if aggActive(agg) && p.backup {
				s.enablePort(p)
				s.pending |= ChangeSlaveArray
			}
		}
	}

	if p.muxState == last {
		return
	}
	switch p.muxState {
	case MuxDetached:
		p.actorOperState &^= StateSynchronization
		s.disableCollectingDistributing(p)
		p.actorOperState &^= StateCollecting | StateDistributing
		p.ntt = true
	case MuxWaiting:
		p.muxTimer = aggregateWaitTime * TicksPerSecond
	case MuxAttached:
		if aggActive(agg) {
			p.actorOperState |= StateSynchronization
		} else {
			p.actorOperState &^= StateSynchronization
		}
		p.actorOperState &^= StateCollecting | StateDistributing
		s.disableCollectingDistributing(p)
		p.ntt = true
	case MuxCollectingDistributing:
		p.actorOperState |= StateCollecting | StateDistributing | StateSynchronization
		s.enableCollectingDistributing(p)
		p.ntt = true
	case MuxCollecting:
		p.actorOperState |= StateCollecting | StateSynchronization
		p.actorOperState &^= StateDistributing
		if aggActive(p.agg) {
			s.enableCollecting(p)
		}
		if p.agg != nil && p.agg.hasPartner() {
			s.setBackup(p, true)
			s.pending |= ChangeSlaveArray
		}
		p.ntt = true
	case MuxDistributing:
		p.actorOperState |= StateDistributing | StateSynchronization
		s.enableCollectingDistributing(p)
	}
}

// --- slave flags -----------------------------------------------------------

// setBackup sets slave->backup (bond_set_slave_state).
func (s *System) setBackup(p *port, backup bool) {
	if p.backup != backup {
		p.backup = backup
		s.pending |= ChangePortFlags
	}
}

func (s *System) setInactive(p *port, v bool) {
	if p.inactive != v {
		p.inactive = v
		s.pending |= ChangePortFlags
	}
}

func (s *System) setRxDisabled(p *port, v bool) {
	if p.rxDisabled != v {
		p.rxDisabled = v
		s.pending |= ChangePortFlags
	}
}

// setInactiveFlags is bond_set_slave_inactive_flags in 802.3ad mode.
func (s *System) setInactiveFlags(p *port) {
	s.setBackup(p, true)
	if !s.opt.AllSlavesActive {
		s.setInactive(p, true)
	}
	s.setRxDisabled(p, true)
}

// setActiveFlags is bond_set_slave_active_flags in 802.3ad mode.
func (s *System) setActiveFlags(p *port) {
	s.setBackup(p, false)
	s.setInactive(p, false)
	s.setRxDisabled(p, false)
}

// disablePort is __disable_port.
func (s *System) disablePort(p *port) { s.setInactiveFlags(p) }

// enablePort activates the slave if its link is up (__enable_port).
func (s *System) enablePort(p *port) {
	if p.link.Status == LinkUp && p.link.DevUp {
		s.setActiveFlags(p)
	}
}

// enableCollecting is ad_enable_collecting / __enable_collecting_port.
func (s *System) enableCollecting(p *port) {
	if aggActive(p.agg) && p.link.Status == LinkUp && p.link.DevUp {
		s.setRxDisabled(p, false)
	}
}

// enableCollectingDistributing is ad_enable_collecting_distributing.
func (s *System) enableCollectingDistributing(p *port) {
	if aggActive(p.agg) {
		s.enablePort(p)
		s.pending |= ChangeSlaveArray
	}
}

// disableCollectingDistributing is ad_disable_collecting_distributing.
func (s *System) disableCollectingDistributing(p *port) {
	if p.agg != nil && p.agg.hasPartner() {
		s.disablePort(p)
		s.pending |= ChangeSlaveArray
	}
}

// --- keys ------------------------------------------------------------------

// linkSpeed is __get_link_speed: the port's speed code, 0 unless the link
// is up.
func (s *System) linkSpeed(p *port) uint16 {
	if p.link.Status != LinkUp {
		return 0
	}
	code := linkSpeedKey(p.link.Speed)
	if code == 0 && p.link.Speed != SpeedUnknown {
		s.emit(Event{Level: LevelErr, Once: true,
			Text: s.name + ": (slave " + p.name + "): unknown ethtool speed (" +
				strconv.Itoa(int(int32(p.link.Speed))) + ") for port " +
				strconv.Itoa(int(p.actorPortNumber)) + " (set it to 0)"})
	}
	return code
}

// duplexBit is __get_duplex.
func (p *port) duplexBit() uint16 {
	if p.link.Status == LinkUp && p.link.Duplex == DuplexFull {
		return 1
	}
	return 0
}

// updateActorKeys recomputes the port keys from speed and duplex, or only
// clears those bits when reset (ad_update_actor_keys).
func (s *System) updateActorKeys(p *port, reset bool) {
	var duplex, speed, ospeed uint16
	old := p.actorOperKey
	p.actorAdminKey &^= speedKeyMask | duplexKeyMask
	if !reset {
		speed = s.linkSpeed(p)
		ospeed = (old & speedKeyMask) >> 1
		duplex = p.duplexBit()
		p.actorAdminKey |= speed<<1 | duplex
	}
	p.actorOperKey = p.actorAdminKey
	if old == p.actorOperKey {
		return
	}
	if duplex != 0 {
		p.smVars |= portLACPEnabled
	} else {
		p.smVars &^= portLACPEnabled
	}
	if reset {
		return
	}
	if speed == 0 {
		s.slaveLog(LevelErr, p, "speed changed to 0 on port "+strconv.Itoa(int(p.actorPortNumber)))
	} else if duplex != 0 && ospeed != speed {
		p.smVars |= portBegin
	}
}

// --- transmit --------------------------------------------------------------

// pduFromPort fills the LACPDU a port sends (__update_lacpdu_from_port).
func (p *port) pduFromPort(pdu *LACPDU) {
	*pdu = LACPDU{
		Version: 1,
		Actor: PDUInfo{
			SystemPriority: p.actorSystemPriority,
			System:         p.actorSystem,
			Key:            p.actorOperKey,
			PortPriority:   p.actorPortPriority,
			Port:           p.actorPortNumber,
			State:          p.actorOperState,
		},
		Partner: PDUInfo{
			SystemPriority: p.partnerOper.systemPriority,
			System:         p.partnerOper.system,
			Key:            p.partnerOper.key,
			PortPriority:   p.partnerOper.portPriority,
			Port:           p.partnerOper.portNumber,
			State:          p.partnerOper.portState,
		},
	}
}

// sendLACPDU sends the port's LACPDU from its permanent address
// (ad_lacpdu_send).
func (s *System) sendLACPDU(p *port) {
	p.stats.LACPDUTx++
	s.stats.LACPDUTx++
	p.pduFromPort(&s.txPDU)
	n, _ := EncodeLACPDUFrame(s.txbuf[:], p.permMAC, &s.txPDU)
	if s.transmit != nil {
		s.transmit(p.id, s.txbuf[:n])
	}
}
