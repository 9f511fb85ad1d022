"""Page input of the consolidation pages: the queue's filters, a clerk's proposal, the second person's answer,
the undo, the confirmation of an import."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from consolidation.models import BatchStatus, Conflict, ConflictKind, Decision, EmployerDecision
from consolidation.services.conflicts import CANDIDATE, FIELDS, INCOMING

SIDE_CHOICES = [(INCOMING, _("导入记录")), (CANDIDATE, _("已登记人员"))]
FIELD_LABELS = {
    "name": _("姓名"),
    "household_type": _("户籍类型"),
    "phone": _("联系电话"),
    "address": _("地址"),
    "residence_office": _("所属机构"),
    "id_number": _("公民身份号码（保留哪一个即保留哪一条记录）"),
}


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("状态"),
        required=False,
        choices=[("", _("待处理和待复核")), ("open", _("待处理")), ("proposed", _("待复核")), ("decided", _("已处理"))],
    )
    kind = forms.ChoiceField(label=_("类型"), required=False, choices=[("", _("全部")), *ConflictKind.choices])


class BatchFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("状态"), required=False, choices=[("", _("全部")), *BatchStatus.choices])


class ProposeForm(forms.Form):
    decision = forms.ChoiceField(label=_("处理意见"), choices=Decision.choices, widget=forms.RadioSelect)
    candidate = forms.ChoiceField(label=_("合并到"), required=False, widget=forms.RadioSelect)
    note = forms.CharField(label=_("说明"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, conflict: Conflict, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.conflict = conflict
        candidates = list(conflict.candidates.all())
        self.fields["candidate"].choices = [(str(c.person.uid), c.person.name) for c in candidates]
        if len(candidates) == 1:
            self.fields["candidate"].initial = str(candidates[0].person.uid)
        if conflict.kind == ConflictKind.FIELDS:
            self.fields["decision"].choices = [(Decision.MERGE, _("确认各项的值"))]
            self.fields["decision"].initial = Decision.MERGE
        names = list(FIELDS) + (["id_number"] if conflict.kind == ConflictKind.PAIR else [])
        for name in names:
            self.fields[f"choice_{name}"] = forms.ChoiceField(
                label=FIELD_LABELS[name],
                choices=SIDE_CHOICES,
                initial=CANDIDATE,
                required=False,
                widget=forms.RadioSelect,
            )

    def clean(self):
        data = super().clean()
        if data.get("decision") == Decision.MERGE and not data.get("candidate"):
            self.add_error("candidate", _("请选择要合并到的已登记人员。"))
        return data

    def choices(self) -> dict[str, str]:
        return {
            name[len("choice_") :]: value or CANDIDATE
            for name, value in self.cleaned_data.items()
            if name.startswith("choice_")
        }

    def choice_field(self, field: str):
        """The bound radio field for a row of the side-by-side table (None for rows that are not chosen)."""
        name = f"choice_{field}"
        return self[name] if name in self.fields else None


class ReturnForm(forms.Form):
    note = forms.CharField(label=_("退回意见"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class UndoForm(forms.Form):
    reason = forms.CharField(label=_("撤销原因"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class ApplyForm(forms.Form):
    confirm = forms.BooleanField(label=_("已核对检查报告，确认导入本批次"), required=True)


class EmployerConflictForm(forms.Form):
    """One step on a pair of employers of the queue: propose (with the decision), approve, or send back."""

    action = forms.ChoiceField(
        choices=[("propose", _("提出处理意见")), ("approve", _("复核通过")), ("return", _("退回"))],
        widget=forms.HiddenInput,
    )
    decision = forms.ChoiceField(
        label=_("处理意见"), required=False, choices=EmployerDecision.choices, widget=forms.RadioSelect
    )
    note = forms.CharField(label=_("说明"), required=False, max_length=2000)
