"""PS3.15 Annex E Table E.1-1 (Application Level Confidentiality Profile Attributes): the action code
of the Basic Profile for every attribute the table names, by pydicom keyword. Data only; the codes are
applied by annotator.dicom.deidentify and rendered into docs/dicom.md.

Codes (PS3.15 E.3.1): D dummy value, Z zero length or dummy, X remove, K keep, U replace the UID (kept
here: Retain UIDs Option), and the combinations X/Z, X/D, Z/D, X/Z/D, X/Z/U* which leave the choice
to what the IOD requires. `BASIC_PROFILE` holds the rows of the table's core edition; `LATER_ROWS`
the rows later editions added (clinical trial attributes, alternative calendars, telecom
information, instance creation date/time) and the ones this project removed before and keeps
removing. Groups without keywords (curves 50xx, overlays 60xx) and private attributes are handled by
the code.
"""

from __future__ import annotations

_CORE = """
D:
    GraphicAnnotationSequence PersonIdentificationCodeSequence PersonName VerifyingObserverName
    VerifyingObserverSequence
Z:
    AccessionNumber ContentCreatorName FillerOrderNumberImagingServiceRequest PatientBirthDate PatientID
    PatientName PatientSex PlacerOrderNumberImagingServiceRequest ReferringPhysicianName StudyDate StudyID
    StudyTime VerifyingObserverIdentificationCodeSequence
X:
    AcquisitionComments AcquisitionContextSequence AcquisitionProtocolDescription ActualHumanPerformersSequence
    AdditionalPatientHistory AdmissionID AdmittingDate AdmittingDiagnosesCodeSequence
    AdmittingDiagnosesDescription AdmittingTime Allergies Arbitrary AuthorObserverSequence BranchOfService
    CassetteID CommentsOnThePerformedProcedureStep ConfidentialityConstraintOnPatientDataDescription
    ContentCreatorIdentificationCodeSequence ContentSequence ContributionDescription CountryOfResidence
    CurrentPatientLocation CurveDate CurveTime CustodialOrganizationSequence DataSetTrailingPadding
    DerivationDescription DigitalSignatureUID DigitalSignaturesSequence DischargeDiagnosisDescription
    DistributionAddress DistributionName EthnicGroup FrameComments GantryID GeneratorID HumanPerformerName
    HumanPerformerOrganization IconImageSequence IdentifyingComments ImageComments ImagePresentationComments
    ImagingServiceRequestComments Impressions InstitutionAddress InstitutionalDepartmentName
    InsurancePlanIdentification IntendedRecipientsOfResultsIdentificationSequence InterpretationApproverSequence
    InterpretationAuthor InterpretationDiagnosisDescription InterpretationIDIssuer InterpretationRecorder
    InterpretationText InterpretationTranscriber IssuerOfAdmissionID IssuerOfPatientID IssuerOfServiceEpisodeID
    LastMenstrualDate MAC MedicalAlerts MedicalRecordLocator MilitaryRank ModifiedAttributesSequence
    ModifiedImageDescription ModifyingDeviceID ModifyingDeviceManufacturer NameOfPhysiciansReadingStudy
    NamesOfIntendedRecipientsOfResults Occupation OrderCallbackPhoneNumber OrderEnteredBy OrderEntererLocation
    OriginalAttributesSequence OtherPatientIDs OtherPatientIDsSequence OtherPatientNames OverlayDate OverlayTime
    ParticipantSequence PatientAddress PatientAge PatientBirthName PatientBirthTime PatientComments
    PatientInstitutionResidence PatientInsurancePlanCodeSequence PatientMotherBirthName
    PatientPrimaryLanguageCodeSequence PatientPrimaryLanguageModifierCodeSequence PatientReligiousPreference
    PatientSize PatientState PatientTelephoneNumbers PatientTransportArrangements PatientWeight PerformedLocation
    PerformedProcedureStepDescription PerformedProcedureStepEndDate PerformedProcedureStepEndTime
    PerformedProcedureStepID PerformedProcedureStepStartDate PerformedProcedureStepStartTime
    PerformedStationAETitle PerformedStationGeographicLocationCodeSequence PerformedStationName
    PerformedStationNameCodeSequence PerformingPhysicianIdentificationSequence PerformingPhysicianName
    PersonAddress PersonTelephoneNumbers PhysicianApprovingInterpretation PhysiciansOfRecord
    PhysiciansOfRecordIdentificationSequence PhysiciansReadingStudyIdentificationSequence PlateID PreMedication
    PregnancyStatus ReasonForStudy ReasonForTheImagingServiceRequest ReferencedDigitalSignatureSequence
    ReferencedPatientAliasSequence ReferencedPatientSequence ReferencedSOPInstanceMACSequence
    ReferringPhysicianAddress ReferringPhysicianIdentificationSequence ReferringPhysicianTelephoneNumbers
    RegionOfResidence RequestAttributesSequence RequestedContrastAgent RequestedProcedureComments
    RequestedProcedureID RequestedProcedureLocation RequestingPhysician RequestingService ResponsibleOrganization
    ResponsiblePerson ResultsComments ResultsDistributionListSequence ResultsIDIssuer
    ScheduledHumanPerformersSequence ScheduledPatientInstitutionResidence
    ScheduledPerformingPhysicianIdentificationSequence ScheduledPerformingPhysicianName
    ScheduledProcedureStepDescription ScheduledProcedureStepEndDate ScheduledProcedureStepEndTime
    ScheduledProcedureStepLocation ScheduledProcedureStepStartDate ScheduledProcedureStepStartTime
    ScheduledStationAETitle ScheduledStationGeographicLocationCodeSequence ScheduledStationName
    ScheduledStationNameCodeSequence ScheduledStudyLocation ScheduledStudyLocationAETitle SeriesDescription
    ServiceEpisodeDescription ServiceEpisodeID SmokingStatus SpecialNeeds StudyComments StudyDescription
    StudyIDIssuer TextComments TextString TimezoneOffsetFromUTC TopicAuthor TopicKeywords TopicSubject TopicTitle
    VerifyingOrganization VisitComments
U:
    ConcatenationUID ContextGroupExtensionCreatorUID CreatorVersionUID DeviceUID DimensionOrganizationUID
    DoseReferenceUID FailedSOPInstanceUIDList FiducialUID FrameOfReferenceUID InstanceCreatorUID
    IrradiationEventUID LargePaletteColorLookupTableUID PaletteColorLookupTableUID ReferencedFrameOfReferenceUID
    ReferencedGeneralPurposeScheduledProcedureStepTransactionUID ReferencedSOPInstanceUID
    ReferencedSOPInstanceUIDInFile RelatedFrameOfReferenceUID SOPInstanceUID SeriesInstanceUID
    StorageMediaFileSetUID StudyInstanceUID SynchronizationFrameOfReferenceUID TemplateExtensionCreatorUID
    TemplateExtensionOrganizationUID TransactionUID UID
Z/D:
    ContentDate ContentTime ContrastBolusAgent
X/Z:
    AcquisitionDate AcquisitionTime PatientSexNeutered ReferencedStudySequence RequestedProcedureDescription
    ReviewerName
X/D:
    AcquisitionDateTime AcquisitionDeviceProcessingDescription DetectorID OperatorIdentificationSequence
    ProtocolName SeriesDate SeriesTime
X/Z/D:
    DeviceSerialNumber InstitutionCodeSequence InstitutionName OperatorsName
    ReferencedPerformedProcedureStepSequence StationName
X/Z/U*:
    ReferencedImageSequence SourceImageSequence
"""

_LATER = """
D:
    ClinicalTrialProtocolEthicsCommitteeName ClinicalTrialProtocolID ClinicalTrialSponsorName
Z:
    ClinicalTrialCoordinatingCenterName ClinicalTrialProtocolEthicsCommitteeApprovalNumber
    ClinicalTrialProtocolName ClinicalTrialSiteID ClinicalTrialSiteName ClinicalTrialSubjectID
    ClinicalTrialSubjectReadingID ClinicalTrialTimePointID
X:
    ClinicalTrialSeriesDescription ClinicalTrialSeriesID ClinicalTrialTimePointDescription
    IssuerOfAdmissionIDSequence OrderCallbackTelecomInformation PatientAlternativeCalendar
    PatientBirthDateInAlternativeCalendar PatientDeathDateInAlternativeCalendar PatientTelecomInformation
    ReasonForTheRequestedProcedure
X/D:
    InstanceCreationDate
X/Z/D:
    InstanceCreationTime
"""


def _parse(text: str) -> dict[str, str]:
    rows: dict[str, str] = {}
    code = ""
    for line in text.strip().splitlines():
        if line.endswith(":") and not line.startswith(" "):
            code = line[:-1]
        else:
            rows.update(dict.fromkeys(line.split(), code))
    return rows


BASIC_PROFILE: dict[str, str] = _parse(_CORE)
LATER_ROWS: dict[str, str] = _parse(_LATER)
PROFILE: dict[str, str] = {**BASIC_PROFILE, **LATER_ROWS}
